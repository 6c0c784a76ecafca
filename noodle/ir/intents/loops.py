"""Counted loops over arrays, recognised by what they compute.

A loop — or a perfect nest of two — whose body holds no other loop is read as a set of
*accumulations* (`s = s + e`, `s = s * e`, `s = min(s, e)`, `s = max(s, e)`, each maybe under an
`if` filter) and *stores* (`y[i] = e`), with private temporaries (`let t = ...`) between them.
From those:

    reduction   only accumulations: sum, product, min, max, count (`n += 1` under an `if`)
    dot         exactly `s += x[i] * y[i]` over two whole float arrays — gets the BLAS variant
    map         only stores, each element written from the same position of the inputs
    stencil     a map reading its inputs at fixed offsets (`a[i - 1, j] + a[i + 1, j] + ...`)
    scan        a sum whose running value is stored each iteration (`s += x[i]; out[i] = s`)
    histogram   `h[k] += 1` where `k` is read from an array

The analysis is sound before it is clever: a loop that leaves early (`break`, `return`, `throw`),
calls something that may have side effects, reads an accumulator anywhere but in its own update,
reads a stored array at another position than it writes, or reads a temporary before setting it
(each a loop-carried dependence, or a reason the iterations are not independent) is left alone,
and the reason is kept on the loop (`ForRange.note`) for `noodlec --explain`.

Only the dot product replaces the loop (with a guarded library variant, noodle.ir.variants);
the others run as written — natively, where LLVM vectorises them (a recognised float sum may be
reassociated) — and the recognition is what `--explain` reports.
"""
from __future__ import annotations

import copy
from typing import Iterator, Union

from noodle.ir import variants
from noodle.ir import nodes as ir
from noodle.ir.native_plan import NATIVE_BUILTINS, float_reductions
from noodle.ir.printer import expr_text
from noodle.ir.types import BOOL, FLOAT, ArrayT, prune
from noodle.ir.walk import walk

#: natives a recognised loop may call: they read, compute and may raise, nothing else
PURE_NATIVES = NATIVE_BUILTINS | {"array.get", "array.len", "len", "array.shape", "math.floor", "math.ceil",
                                  "math.tan", "math.pow"}

#: `s = s OP e` -> the reduction it is
_ACCUMULATE = {"float.add": "sum", "int.add": "sum", "float.mul": "product", "int.mul": "product",
               "min2": "min", "max2": "max", "f32.add": "sum", "i32.add": "sum", "f32.mul": "product",
               "i32.mul": "product"}

#: an index of an access: (loop variable slot, constant offset), or None for one the loop does not vary
Offset = Union[tuple[int, int], None]


class LeftAlone(Exception):
    """Why a loop that looked like an intent is not one."""


class _Accumulation:
    def __init__(self, stmt: ir.LocalSet, kind: str, filtered: bool, position: int) -> None:
        self.stmt, self.kind, self.filtered, self.position = stmt, kind, filtered, position


def recognise(f: ir.Function, loop: ir.ForRange) -> ir.Stmt | None:
    """Record what `loop` computes on it (`intent`, `note`); returns a replacement (a guarded
    library variant) or None.  Loops nothing like an intent are left untouched."""
    nest = _nest(loop)
    if nest is None:
        return None
    body = nest[-1].body
    try:
        found = _classify(f, nest, body)
    except LeftAlone as why:
        loop.note = f"no intent: {why}"
        return None
    if found is None:
        return None
    key, detail = found
    loop.intent, loop.note = key, detail
    for inner in nest[1:]:
        inner.intent = "nested"  # part of the nest just recognised: --explain reports the nest once
    if key == "dot":
        return _dot_variant(f, loop)
    return None


def _nest(loop: ir.ForRange) -> list[ir.ForRange] | None:
    """`loop`, or `loop` and the one loop that is its whole body; None when a loop lies deeper."""
    nest = [loop]
    if len(loop.body) == 1 and isinstance(loop.body[0], ir.ForRange):
        nest.append(loop.body[0])
    if any(isinstance(n, (ir.ForRange, ir.While, ir.ForEach)) for s in nest[-1].body for n in walk(s)):
        return None
    if not all(isinstance(x.step, ir.Const) and x.step.value == 1 for x in nest):
        return None
    return nest


def _classify(f: ir.Function, nest: list[ir.ForRange], body: list[ir.Stmt]) -> tuple[str, str] | None:
    name = f.local_names
    accumulations: list[_Accumulation] = []
    stores: list[tuple[ir.CallBuiltin, int, int]] = []  # (array.set, position, line)
    for pos, s in enumerate(body):
        for stmt, filtered in _flatten(s):
            acc = _accumulation(stmt)
            if acc is not None:
                accumulations.append(_Accumulation(stmt, acc, filtered, pos))  # type: ignore[arg-type]
            elif isinstance(stmt, ir.ExprStmt) and isinstance(stmt.expr, ir.CallBuiltin) \
                    and stmt.expr.name == "array.set" and isinstance(stmt.expr.args[0], ir.LocalGet):
                stores.append((stmt.expr, pos, stmt.line))
    if not accumulations and not stores:
        return None
    _no_exits_or_effects(body)
    loop_vars = [x.slot for x in nest]
    assigned = {n.slot for s in body for n in walk(s) if isinstance(n, ir.LocalSet)}
    acc_slots = {a.stmt.slot for a in accumulations}
    if len(acc_slots) != len(accumulations):
        raise LeftAlone("an accumulator is updated twice in one iteration")
    _temporaries_set_before_read(body, assigned - acc_slots, name)
    scan = _accumulators_read_only_in_their_update(body, accumulations, stores, name)
    for store, pos, line in stores:
        _reads_where_it_writes(body, store, line, loop_vars, assigned, name)

    if scan is not None:
        return "scan", f"running sum `{name[scan[0]]}` stored into `{name[scan[1]]}`"
    if accumulations and not stores:
        first = accumulations[0]
        if len(accumulations) == 1 and not first.filtered and first.kind == "sum" and _dot_operands(first.stmt, nest):
            return "dot", f"into `{name[first.stmt.slot]}`"
        floats = float_reductions(body)
        parts = [f"{_kind(a)} into `{name[a.stmt.slot]}`" + (" under an if-filter" if a.filtered else "")
                 + (" (reassociated, vectorisable)" if id(a.stmt) in floats else "") for a in accumulations]
        return _kind(first), ", ".join(parts)
    if stores and not accumulations:
        if all(_histogram(store, loop_vars, assigned) for store, _, _ in stores):
            return "histogram", "into " + ", ".join(f"`{name[s.args[0].slot]}`" for s, _, _ in stores)  # type: ignore[attr-defined]
        points = _stencil_points(body, stores, loop_vars, assigned)
        targets = ", ".join(sorted({f"`{name[s.args[0].slot]}`" for s, _, _ in stores}))  # type: ignore[attr-defined]
        if points:
            return "stencil", f"{points}-point neighbourhood, into {targets}"
        return "map", f"into {targets}"
    return None  # stores and sums together: left to the loops, nothing to name


def _kind(a: _Accumulation) -> str:
    """The reduction's name; `n += 1` under a filter counts."""
    v = a.stmt.value
    counts = a.kind == "sum" and a.filtered and isinstance(v, ir.Binary) and _is_const(v.b, 1)
    return "count" if counts else a.kind


def _flatten(s: ir.Stmt) -> Iterator[tuple[ir.Stmt, bool]]:
    """The statements of a loop body, looking through `if` filters (flagged True)."""
    if isinstance(s, ir.If) and not s.intent:
        for x in s.then + s.otherwise:
            for y, _ in _flatten(x):
                yield y, True
    else:
        yield s, False


def _accumulation(s: ir.Stmt) -> str | None:
    if not isinstance(s, ir.LocalSet):
        return None
    v = s.value
    if isinstance(v, ir.Binary) and v.op in _ACCUMULATE:
        if _is_local(v.a, s.slot) or (_is_local(v.b, s.slot) and v.op.endswith(("add", "mul"))):
            return _ACCUMULATE[v.op]
    if isinstance(v, ir.CallBuiltin) and v.name in _ACCUMULATE and any(_is_local(x, s.slot) for x in v.args):
        return _ACCUMULATE[v.name]  # min, max, and the 32-bit types' + and * (natives, commutative all)
    return None


def _is_local(e: ir.Expr, slot: int) -> bool:
    return isinstance(e, ir.LocalGet) and e.slot == slot


def _is_const(e: ir.Expr, value: object) -> bool:
    return isinstance(e, ir.Const) and e.value == value and not isinstance(e.value, bool)


def _no_exits_or_effects(body: list[ir.Stmt]) -> None:
    for s in body:
        for n in walk(s):
            if isinstance(n, (ir.Break, ir.Return, ir.Throw, ir.Continue)):
                word = type(n).__name__.lower()
                raise LeftAlone(f"line {n.line} leaves the iteration early (`{word}`)")
            if isinstance(n, (ir.Call, ir.CallMod, ir.CallValue)):
                callee = getattr(n, "func", "") or getattr(n, "name", "") or "a function value"
                raise LeftAlone(f"line {n.line} calls `{callee}`, which may have side effects")
            if isinstance(n, ir.CallBuiltin) and n.name not in PURE_NATIVES and n.name != "array.set":
                raise LeftAlone(f"line {n.line} calls `{n.name}`, which may have side effects")
            if isinstance(n, (ir.GlobalSet, ir.FieldSet, ir.IndexSet, ir.FreeSet, ir.TryCatch)):
                raise LeftAlone(f"line {n.line} changes state outside the loop's arrays and variables")


def _temporaries_set_before_read(body: list[ir.Stmt], temps: set[int], name: list[str]) -> None:
    """A temporary read before this iteration sets it carries a value from the last iteration."""
    set_so_far: set[int] = set()
    for s in body:
        for n in walk(s):
            if isinstance(n, ir.LocalGet) and n.slot in temps and n.slot not in set_so_far:
                raise LeftAlone(f"line {s.line} reads `{name[n.slot]}` before the iteration sets it: "
                                "a loop-carried dependence")
        if isinstance(s, ir.LocalSet):
            set_so_far.add(s.slot)  # only an unconditional set counts


def _accumulators_read_only_in_their_update(body: list[ir.Stmt], accs: list[_Accumulation],
                                            stores: list[tuple[ir.CallBuiltin, int, int]],
                                            name: list[str]) -> tuple[int, int] | None:
    """Each accumulator is read only by its own update — or, for a scan, also stored right after it.
    Returns (accumulator, array) for a scan."""
    own = {id(a.stmt) for a in accs}
    slots = {a.stmt.slot: a for a in accs}
    scan: tuple[int, int] | None = None
    for s in body:
        for stmt, _ in _flatten(s):
            if id(stmt) in own:
                inside = [n for n in walk(stmt.value) if isinstance(n, ir.LocalGet) and n.slot == stmt.slot]  # type: ignore[attr-defined]
                if len(inside) != 1:
                    raise LeftAlone(f"line {stmt.line} reads `{name[stmt.slot]}` twice in its own update")  # type: ignore[attr-defined]
                continue
            for n in walk(stmt):
                if isinstance(n, ir.LocalGet) and n.slot in slots:
                    a = slots[n.slot]
                    store = stmt.expr if isinstance(stmt, ir.ExprStmt) else None  # type: ignore[attr-defined]
                    if (len(accs) == 1 and a.kind == "sum" and not a.filtered and store is not None
                            and any(x is store for x, _, _ in stores) and store.args[-1] is n
                            and body.index(s) > a.position and scan is None):
                        scan = (n.slot, store.args[0].slot)
                        continue
                    raise LeftAlone(f"line {stmt.line} reads `{name[n.slot]}`, which the loop accumulates: "
                                    "each iteration depends on the one before")
    return scan


def _offset(e: ir.Expr, loop_vars: list[int], assigned: set[int]) -> Offset | str:
    """An index as (loop variable, constant offset); None when the loop does not vary it; "data"
    when it depends on what the loop reads or computes."""
    if isinstance(e, ir.LocalGet) and e.slot in loop_vars:
        return (e.slot, 0)
    if isinstance(e, ir.Binary) and e.op in ("int.add", "int.sub") and isinstance(e.a, ir.LocalGet) \
            and e.a.slot in loop_vars and isinstance(e.b, ir.Const) and isinstance(e.b.value, int):
        return (e.a.slot, e.b.value if e.op == "int.add" else -e.b.value)
    if any((isinstance(n, ir.LocalGet) and (n.slot in loop_vars or n.slot in assigned))
           or (isinstance(n, ir.CallBuiltin) and n.name == "array.get") for n in walk(e)):
        return "data"
    return None


def _index(access: ir.CallBuiltin, loop_vars: list[int], assigned: set[int]) -> list[Offset | str]:
    args = access.args[1:-1] if access.name == "array.set" else access.args[1:]
    return [_offset(x, loop_vars, assigned) for x in args]


def _reads_where_it_writes(body: list[ir.Stmt], store: ir.CallBuiltin, line: int, loop_vars: list[int],
                           assigned: set[int], name: list[str]) -> None:
    arr = store.args[0].slot  # type: ignore[attr-defined]
    where = _index(store, loop_vars, assigned)
    if _histogram(store, loop_vars, assigned):
        return
    if "data" in where:
        raise LeftAlone(f"line {line} writes `{name[arr]}` at a position computed from data")
    if any(o is not None and o[1] != 0 for o in where) or {o[0] for o in where if o} != set(loop_vars):  # type: ignore[index]
        raise LeftAlone(f"line {line} does not write a new element of `{name[arr]}` each iteration")
    for s in body:
        for n in walk(s):
            if isinstance(n, ir.CallBuiltin) and n.name == "array.get" and _is_local(n.args[0], arr) \
                    and (_index(n, loop_vars, assigned) != where or not _same(n.args[1:], store.args[1:-1])):
                raise LeftAlone(f"line {s.line} reads `{name[arr]}` at another position than line {line} "
                                "writes it: a loop-carried dependence")


def _same(a: list[ir.Expr], b: list[ir.Expr]) -> bool:
    """The same index expressions (compared as printed: positions in the source differ)."""
    return len(a) == len(b) and all(expr_text(x) == expr_text(y) for x, y in zip(a, b))


def _histogram(store: ir.CallBuiltin, loop_vars: list[int], assigned: set[int]) -> bool:
    """`h[k] = h[k] + c` with `k` computed in the iteration (from what it reads): an increment at a
    data-dependent position."""
    value = store.args[-1]
    where = _index(store, loop_vars, assigned)
    return where == ["data"] and isinstance(value, ir.Binary) and value.op == "int.add" \
        and isinstance(value.a, ir.CallBuiltin) and value.a.name == "array.get" \
        and _is_local(value.a.args[0], store.args[0].slot) and _same(value.a.args[1:], store.args[1:-1]) \
        and isinstance(value.b, ir.Const)


def _stencil_points(body: list[ir.Stmt], stores: list[tuple[ir.CallBuiltin, int, int]], loop_vars: list[int],
                    assigned: set[int]) -> int:
    """How many distinct positions a map reads of one input, when some are at nonzero offsets; else 0."""
    written = {s.args[0].slot for s, _, _ in stores}  # type: ignore[attr-defined]
    best = 0
    reads: dict[int, set[tuple]] = {}
    for s in body:
        for n in walk(s):
            if isinstance(n, ir.CallBuiltin) and n.name == "array.get" and isinstance(n.args[0], ir.LocalGet) \
                    and n.args[0].slot not in written:
                reads.setdefault(n.args[0].slot, set()).add(tuple(_index(n, loop_vars, assigned)))
    for positions in reads.values():
        if any(o is not None and o != "data" and o[1] != 0 for p in positions for o in p):  # type: ignore[index]
            best = max(best, len(positions))
    return best


def _dot_operands(acc: ir.LocalSet, nest: list[ir.ForRange]) -> tuple[ir.LocalGet, ir.LocalGet] | None:
    """`s = s + x[i] * y[i]` over 1-D float arrays in a single loop from 0: (x, y)."""
    if len(nest) != 1 or not (isinstance(nest[0].start, ir.Const) and nest[0].start.value == 0):
        return None
    v = acc.value
    if not isinstance(v, ir.Binary):
        return None  # an f32 or i32 sum is a native call: no BLAS variant for those
    product = v.b if _is_local(v.a, acc.slot) else v.a
    if not (isinstance(product, ir.Binary) and product.op == "float.mul"):
        return None
    out = []
    for e in (product.a, product.b):
        if not (isinstance(e, ir.CallBuiltin) and e.name == "array.get" and len(e.args) == 2
                and isinstance(e.args[0], ir.LocalGet) and _is_local(e.args[1], nest[0].slot)):
            return None
        t = prune(e.args[0].ty)
        if not (isinstance(t, ArrayT) and t.ndim == 1 and t.elem == FLOAT):
            return None
        out.append(e.args[0])
    return out[0], out[1]  # type: ignore[return-value]


def _dot_variant(f: ir.Function, loop: ir.ForRange) -> ir.Stmt | None:
    """`if array.dot_fits(x, y, n) { s = s + array.dot(x, y) } else { loop }`."""
    from noodle.ir.intents import pure_bound

    acc = next(s for s, _ in _flatten(loop.body[0]))
    operands = _dot_operands(acc, [loop])  # type: ignore[arg-type]
    variant = variants.library_variant("dot")
    if operands is None or variant is None or not pure_bound(loop.stop):
        return None
    assert isinstance(acc, ir.LocalSet)
    pos = {"line": loop.line, "col": loop.col}
    x, y = (copy.deepcopy(o) for o in operands)
    fits = ir.CallBuiltin(name=variant.guard or "", args=[x, y, copy.deepcopy(loop.stop)], ty=BOOL, **pos)
    total = ir.Binary(op="float.add", a=ir.LocalGet(slot=acc.slot, ty=FLOAT, **pos),
                      b=ir.CallBuiltin(name=variant.run or "", args=[copy.deepcopy(x), copy.deepcopy(y)], ty=FLOAT,
                                       **pos), ty=FLOAT, **pos)
    return ir.If(cond=fits, then=[ir.LocalSet(slot=acc.slot, value=total, **pos)], otherwise=[loop], intent="dot",
                 **pos)

