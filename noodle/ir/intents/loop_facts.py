"""Reading a counted loop over arrays: its accumulations and stores, and whether its iterations are independent.

A loop — or a perfect nest of two — whose body holds no other loop is read as a set of
*accumulations* (`s = s + e`, `s = s * e`, `s = min(s, e)`, `s = max(s, e)`, each maybe under an
`if` filter) and *stores* (`y[i] = e`), with private temporaries (`let t = ...`) between them.
The recognisers of the loop intents (see the index in :mod:`noodle.ir.intents`) name what such a
loop computes from these facts.

The reading is sound before it is clever: a loop that leaves early (`break`, `return`, `throw`),
calls something that may have side effects, reads an accumulator anywhere but in its own update,
reads a stored array at another position than it writes, or reads a temporary before setting it
(each a loop-carried dependence, or a reason the iterations are not independent) raises
:class:`LeftAlone` with the reason, which is kept on the loop (`ForRange.note`) for `--explain`.
The two exceptions to those rules are intents themselves: a scan stores its running sum right
after updating it, and a histogram writes at a position read from data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from noodle.ir import nodes as ir
from noodle.ir.intents.access import index_of, is_local, same_index
from noodle.ir.intents.histogram import is_histogram_store
from noodle.ir.native_plan import NATIVE_BUILTINS
from noodle.ir.walk import walk

#: natives a recognised loop may call: they read, compute and may raise, nothing else
PURE_NATIVES = NATIVE_BUILTINS | {"array.get", "array.len", "len", "array.shape", "math.floor", "math.ceil",
                                  "math.tan", "math.pow"}

#: `s = s OP e` -> the reduction it is
_ACCUMULATE = {"float.add": "sum", "int.add": "sum", "float.mul": "product", "int.mul": "product",
               "min2": "min", "max2": "max", "f32.add": "sum", "i32.add": "sum", "f32.mul": "product",
               "i32.mul": "product"}


class LeftAlone(Exception):
    """Why a loop that looked like an intent is not one."""


class Accumulation:
    """`s = s OP e` in a loop body: its statement, reduction kind, whether under an `if`, its position."""

    def __init__(self, stmt: ir.LocalSet, kind: str, filtered: bool, position: int) -> None:
        self.stmt, self.kind, self.filtered, self.position = stmt, kind, filtered, position


@dataclass
class LoopFacts:
    """What a loop nest's innermost body does, once its iterations are known to be independent."""

    nest: list[ir.ForRange]
    body: list[ir.Stmt]
    names: list[str]  # the function's local names, for messages
    accumulations: list[Accumulation]
    stores: list[tuple[ir.CallBuiltin, int, int]]  # (array.set, position in the body, line)
    loop_vars: list[int]
    assigned: set[int]  # locals the body sets
    scan: tuple[int, int] | None  # (accumulator, array) when a running sum is stored each iteration


def read_loop(f: ir.Function, loop: ir.ForRange) -> LoopFacts | None:
    """The facts of a loop nest with no deeper loop and unit steps; None when it is not one, or
    neither accumulates nor stores.  Raises LeftAlone when its iterations are not independent."""
    nest = nest_of(loop)
    if nest is None:
        return None
    body = nest[-1].body
    name = f.local_names
    accumulations: list[Accumulation] = []
    stores: list[tuple[ir.CallBuiltin, int, int]] = []  # (array.set, position, line)
    for pos, s in enumerate(body):
        for stmt, filtered in flatten(s):
            acc = _accumulation(stmt)
            if acc is not None:
                accumulations.append(Accumulation(stmt, acc, filtered, pos))  # type: ignore[arg-type]
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
    return LoopFacts(nest, body, name, accumulations, stores, loop_vars, assigned, scan)


def nest_of(loop: ir.ForRange) -> list[ir.ForRange] | None:
    """`loop`, or `loop` and the one loop that is its whole body; None when a loop lies deeper."""
    nest = [loop]
    if len(loop.body) == 1 and isinstance(loop.body[0], ir.ForRange):
        nest.append(loop.body[0])
    if any(isinstance(n, (ir.ForRange, ir.While, ir.ForEach)) for s in nest[-1].body for n in walk(s)):
        return None
    if not all(isinstance(x.step, ir.Const) and x.step.value == 1 for x in nest):
        return None
    return nest


def flatten(s: ir.Stmt) -> Iterator[tuple[ir.Stmt, bool]]:
    """The statements of a loop body, looking through `if` filters (flagged True)."""
    if isinstance(s, ir.If) and not s.intent:
        for x in s.then + s.otherwise:
            for y, _ in flatten(x):
                yield y, True
    else:
        yield s, False


def _accumulation(s: ir.Stmt) -> str | None:
    if not isinstance(s, ir.LocalSet):
        return None
    v = s.value
    if isinstance(v, ir.Binary) and v.op in _ACCUMULATE:
        if is_local(v.a, s.slot) or (is_local(v.b, s.slot) and v.op.endswith(("add", "mul"))):
            return _ACCUMULATE[v.op]
    if isinstance(v, ir.CallBuiltin) and v.name in _ACCUMULATE and any(is_local(x, s.slot) for x in v.args):
        return _ACCUMULATE[v.name]  # min, max, and the 32-bit types' + and * (natives, commutative all)
    return None


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


def _accumulators_read_only_in_their_update(body: list[ir.Stmt], accs: list[Accumulation],
                                            stores: list[tuple[ir.CallBuiltin, int, int]],
                                            name: list[str]) -> tuple[int, int] | None:
    """Each accumulator is read only by its own update — or, for a scan, also stored right after it.
    Returns (accumulator, array) for a scan."""
    own = {id(a.stmt) for a in accs}
    slots = {a.stmt.slot: a for a in accs}
    scan: tuple[int, int] | None = None
    for s in body:
        for stmt, _ in flatten(s):
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


def _reads_where_it_writes(body: list[ir.Stmt], store: ir.CallBuiltin, line: int, loop_vars: list[int],
                           assigned: set[int], name: list[str]) -> None:
    arr = store.args[0].slot  # type: ignore[attr-defined]
    where = index_of(store, loop_vars, assigned)
    if is_histogram_store(store, loop_vars, assigned):
        return
    if "data" in where:
        raise LeftAlone(f"line {line} writes `{name[arr]}` at a position computed from data")
    if any(o is not None and o[1] != 0 for o in where) or {o[0] for o in where if o} != set(loop_vars):  # type: ignore[index]
        raise LeftAlone(f"line {line} does not write a new element of `{name[arr]}` each iteration")
    for s in body:
        for n in walk(s):
            if isinstance(n, ir.CallBuiltin) and n.name == "array.get" and is_local(n.args[0], arr) \
                    and (index_of(n, loop_vars, assigned) != where or not same_index(n.args[1:], store.args[1:-1])):
                raise LeftAlone(f"line {s.line} reads `{name[arr]}` at another position than line {line} "
                                "writes it: a loop-carried dependence")
