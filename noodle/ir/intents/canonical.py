"""Spellings of the same loop nest brought to the one form the recognisers read.

People write the same nest in ways that differ only in spelling; each rewrite here is exact (the
same values, the same errors, in the same order), so it may run before any recogniser:

    for j in 0..len(c[i]) { ... }      inside  for i in 0..len(c)     ->  for j in 0..c.shape[1]
        (the row's length is the array's second dimension; `i` runs inside the array's rows, so
        taking the row cannot fail)

`c[i][j]` itself is read as `c[i, j]` by the checker (noodle.compiler.checker.arrays._whole).

`hoisted_reads` is of another kind: it is not exact on its own (an array read once into a `let`
and used in an inner loop is read again at every use), so it only makes a *copy* of a nest for
the contraction recognisers, whose dispatch keeps the loops as written for the case their guard
refuses (arrays sharing memory: the only way the element could change between the two reads).
"""
from __future__ import annotations

import copy

from noodle.ir import nodes as ir
from noodle.ir.types import BOOL, FLOAT, INT, NONE as NONE_T, ArrayT, ListT, prune
from noodle.ir.walk import rewrite_expr, walk


def _assigned(f: ir.Function) -> set[int]:
    """The slots a statement of `f` assigns (parameters are never assigned unless these say so)."""
    out = {n.slot for s in f.body for n in walk(s) if isinstance(n, (ir.LocalSet, ir.ForRange, ir.ForEach))}
    out.update(n.slot for s in f.body for n in walk(s) if isinstance(n, ir.TryCatch) and n.slot >= 0)
    return out | set(f.mutable_slots)


def _rows_of(loop: ir.ForRange, fixed: set[int]) -> "int | None":
    """The array slot whose rows `loop` walks inside of (`for i in k..len(c)` or `..c.shape[0]`, k a
    constant >= 0, counting by one, `c` never reassigned), or None."""
    if not (isinstance(loop.step, ir.Const) and loop.step.value == 1 and isinstance(loop.start, ir.Const)
            and type(loop.start.value) is int and loop.start.value >= 0):
        return None
    e = loop.stop
    if isinstance(e, ir.CallBuiltin) and e.name in ("array.len", "len") and len(e.args) == 1:
        arr = e.args[0]
    elif isinstance(e, ir.Index) and isinstance(e.obj, ir.CallBuiltin) and e.obj.name == "array.shape" \
            and isinstance(e.index, ir.Const) and e.index.value == 0:
        arr = e.obj.args[0]
    else:
        return None
    if isinstance(arr, ir.LocalGet) and arr.slot in fixed and isinstance(prune(arr.ty), ArrayT):
        return arr.slot
    return None


def row_lengths(f: ir.Function) -> int:
    """Rewrite `len(c[i])` to `c.shape[1]` where `i` walks inside the rows of `c`; how many."""
    if not any(isinstance(n, ir.CallBuiltin) and n.name in ("array.len", "len") and n.args
               and isinstance(n.args[0], ir.CallBuiltin) and n.args[0].name == "array.view"
               for s in f.body for n in walk(s)):
        return 0  # no row's length taken (the common case: nothing to walk twice)
    assigned = _assigned(f)
    fixed = {n.slot for s in f.body for n in walk(s) if isinstance(n, ir.LocalGet)} - assigned
    count = 0

    def visit(body: list[ir.Stmt], rows: dict[int, int]) -> None:
        nonlocal count

        def fn(e: ir.Expr) -> ir.Expr:
            nonlocal count
            if isinstance(e, ir.CallBuiltin) and e.name in ("array.len", "len") and len(e.args) == 1:
                v = e.args[0]
                if isinstance(v, ir.CallBuiltin) and v.name == "array.view" and len(v.args) == 2 \
                        and isinstance(v.args[0], ir.LocalGet) and isinstance(v.args[1], ir.LocalGet) \
                        and rows.get(v.args[1].slot) == v.args[0].slot:
                    count += 1
                    pos = {"line": e.line, "col": e.col}
                    shape = ir.CallBuiltin(name="array.shape", args=[v.args[0]], ty=ListT(INT), **pos)
                    return ir.Index(obj=shape, index=ir.Const(value=1, ty=INT, **pos), ty=INT, **pos)
            return e

        for s in body:
            inner = rows
            if isinstance(s, ir.ForRange):
                s.start, s.stop, s.step = (rewrite_expr(x, fn) for x in (s.start, s.stop, s.step))
                c = _rows_of(s, fixed)
                inner = {**rows, s.slot: c} if c is not None and s.slot not in assigned - _loop_slots(f) \
                    and _only_loop(f, s.slot) else {k: v for k, v in rows.items() if k != s.slot}
                visit(s.body, inner)
                continue
            for name in ("value", "expr", "cond", "iterable", "message", "obj", "index"):
                x = getattr(s, name, None)
                if isinstance(x, ir.Node):
                    setattr(s, name, rewrite_expr(x, fn))
            for name in ("body", "then", "otherwise", "handler"):
                sub = getattr(s, name, None)
                if isinstance(sub, list):
                    visit(sub, rows)

    visit(f.body, {})
    return count


def _loop_slots(f: ir.Function) -> set[int]:
    return {n.slot for s in f.body for n in walk(s) if isinstance(n, ir.ForRange)}


def _only_loop(f: ir.Function, slot: int) -> bool:
    """Nothing but one counting loop assigns `slot` (its body cannot change the loop variable)."""
    writers = [n for s in f.body for n in walk(s)
               if isinstance(n, (ir.LocalSet, ir.ForRange, ir.ForEach)) and n.slot == slot]
    return len(writers) == 1 and isinstance(writers[0], ir.ForRange) and slot not in f.mutable_slots


def hoisted_reads(f: ir.Function, root: ir.ForRange) -> "ir.ForRange | None":
    """A copy of the nest at `root` with each `let x = a[...]` (an array element read into a name
    assigned once, used only below it in the same loop body) replaced by the read at its uses; None
    when the nest has no such `let`.  The copy reads the element again at each use: it computes what
    the nest does as long as no store of the nest reaches that element — which the dispatch's guard
    (the arrays written share no memory with the others) and the recognisers' dependence analysis
    (a store to the array read) decide; the loops as written stay the fallback."""
    if not any(isinstance(n, (ir.ForRange, ir.If)) and any(
            isinstance(x, ir.LocalSet) and _element_read(x.value) and body[k + 1:]
            and all(isinstance(y, ir.ForRange) for y in body[k + 1:])
            for body in ([n.body] if isinstance(n, ir.ForRange) else [n.then, n.otherwise]) for k, x in enumerate(body))
            for n in walk(root)):
        return None  # no `let` of an element above loops: no copy
    counts: dict[int, int] = {}
    for s in f.body:
        for n in walk(s):
            if isinstance(n, (ir.LocalSet, ir.ForRange, ir.ForEach)):
                counts[n.slot] = counts.get(n.slot, 0) + 1
    nest = copy.deepcopy(root)
    # arrays the nest stores into: a `let` of one of their elements may hold a value a later store
    # changes (an accumulator read once), so it stays as written
    stored = {n.args[0].slot for n in walk(root) if isinstance(n, ir.CallBuiltin) and n.name == "array.set"
              and isinstance(n.args[0], ir.LocalGet)}
    changed = False

    def fix(body: list[ir.Stmt]) -> list[ir.Stmt]:
        nonlocal changed
        out: list[ir.Stmt] = []
        for k, s in enumerate(body):
            if isinstance(s, ir.LocalSet) and counts.get(s.slot) == 1 and s.slot not in f.mutable_slots \
                    and _element_read(s.value) and s.value.args[0].slot not in stored:
                later = body[k + 1:]
                indices = {x.slot for x in s.value.args if isinstance(x, ir.LocalGet)}
                if any(isinstance(n, (ir.LocalSet, ir.ForRange, ir.ForEach)) and n.slot in indices
                       for x in later for n in walk(x)):
                    out.append(s)  # an index changes below: the element read there is another
                    continue
                # the read must not see a store between the `let` and a use in this body: the
                # statements after it at this level may only be loops (which the copy reads again
                # in, under the recognisers' analysis) — a store at this level would be missed
                if later and all(isinstance(x, ir.ForRange) for x in later) and _uses(later, s.slot):
                    for x in later:
                        _substitute(x, s.slot, s.value)
                    changed = True
                    continue
            for name in ("body", "then", "otherwise"):
                sub = getattr(s, name, None)
                if isinstance(sub, list):
                    setattr(s, name, fix(sub))
            out.append(s)
        return out

    nest.body = fix(nest.body)
    return nest if changed else None


def _element_read(e: ir.Expr) -> bool:
    """An array element at indices that are locals or constants (reading it twice is harmless)."""
    return isinstance(e, ir.CallBuiltin) and e.name == "array.get" and isinstance(e.args[0], ir.LocalGet) \
        and all(isinstance(x, (ir.LocalGet, ir.Const)) for x in e.args[1:])


def _uses(body: list[ir.Stmt], slot: int) -> bool:
    return any(isinstance(n, ir.LocalGet) and n.slot == slot for s in body for n in walk(s))


def _substitute(s: ir.Stmt, slot: int, value: ir.Expr) -> None:
    def fn(e: ir.Expr) -> ir.Expr:
        return copy.deepcopy(value) if isinstance(e, ir.LocalGet) and e.slot == slot else e

    for n in walk(s):
        for name in ("start", "stop", "step", "value", "expr", "cond", "obj", "index"):
            x = getattr(n, name, None)
            if isinstance(x, ir.Node) and not isinstance(n, ir.Expr):
                setattr(n, name, rewrite_expr(x, fn))


INT_MAX = 2**63 - 1


def ascending(f: ir.Function, root: ir.ForRange) -> "tuple[ir.ForRange, ir.Expr | None] | None":
    """A copy of the nest at `root` with its loops counting down (`for i in range(hi, lo, -1)`)
    counting up over the same values, and the condition (None: none) under which the copy's bounds
    are right (`lo + 1`, `hi + 1` do not overflow); None unless
    the order of the iterations cannot matter but for the order the additions are made in:

        a perfect nest of one statement `X[s] = X[s] + e` (or `e + X[s]`, `X[s] - e`, `+=`, `-=`),
        X a float array, e not reading X

    — every element of X is its old value plus the sum of its terms, in any order (the contraction
    recognisers reassociate sums; their guard checks that X shares no memory with what e reads and
    that every index fits before anything is computed, so an error is raised by the loops as
    written only)."""
    chain = _perfect(root)
    if not any(_counts(lp) == -1 for lp in chain) or not all(_counts(lp) in (1, -1) for lp in chain):
        return None
    body = chain[-1].body
    if len(body) != 1 or not (isinstance(body[0], ir.ExprStmt) and isinstance(body[0].expr, ir.CallBuiltin)
                              and body[0].expr.name == "array.set"):
        return None
    store = body[0].expr
    x = store.args[0]
    if not (isinstance(x, ir.LocalGet) and prune(x.ty) == ArrayT(FLOAT, len(store.args) - 2)):
        return None
    if not _accumulates(store.args[-1], x.slot, [_text(i) for i in store.args[1:-1]]):
        return None
    nest = copy.deepcopy(root)
    safe: list[ir.Expr] = []
    for lp in _perfect(nest):
        if _counts(lp) == -1:
            up = [_plus_one(b, lp is nest, safe) for b in (lp.stop, lp.start)]
            if up[0] is None or up[1] is None:
                return None
            lp.start, lp.stop = up  # type: ignore[assignment]
            lp.step = ir.Const(value=1, ty=INT, line=lp.line, col=lp.col)
    cond: "ir.Expr | None" = None
    for c in safe:
        cond = c if cond is None else ir.Logical(op="and", a=cond, b=c, ty=BOOL, line=c.line, col=c.col)
    return nest, cond


def _plus_one(b: ir.Expr, first: bool, safe: list[ir.Expr]) -> "ir.Expr | None":
    """`b + 1` for the ascending copy of a loop counting down, computed without a check, and in
    `safe` what must hold for it to be right (no overflow; where `b` is `x - 1`, the copy's `x`, that
    `x - 1` would not have overflowed either); None when `b` cannot be computed up front (a bound of
    an inner loop that may fail: the guard would fail where the loops did not)."""
    from noodle.ir.intents.contraction import _pure

    pos = {"line": b.line, "col": b.col}
    if isinstance(b, ir.Const) and type(b.value) is int:
        return ir.Const(value=b.value + 1, ty=INT, **pos) if b.value < INT_MAX else None
    if isinstance(b, ir.Binary) and b.op == "int.sub" and isinstance(b.b, ir.Const) and b.b.value == 1 \
            and _pure(b.a, first):
        if b.skip != 3:
            safe.append(ir.Binary(op="cmp.gt", a=copy.deepcopy(b.a), b=ir.Const(value=-INT_MAX - 1, ty=INT, **pos),
                                  ty=BOOL, **pos))
        return b.a
    if not _pure(b, first):
        return None
    safe.append(ir.Binary(op="cmp.lt", a=copy.deepcopy(b), b=ir.Const(value=INT_MAX, ty=INT, **pos), ty=BOOL, **pos))
    # no check: the guard computes it (a comparison, whatever it is); the calls use it only once
    # `safe` holds too, when it cannot have wrapped
    return ir.Binary(op="int.add", a=b, b=ir.Const(value=1, ty=INT, **pos), ty=INT, skip=3, **pos)


def _perfect(root: ir.ForRange) -> list[ir.ForRange]:
    chain = [root]
    while len(chain[-1].body) == 1 and isinstance(chain[-1].body[0], ir.ForRange):
        chain.append(chain[-1].body[0])
    return chain


def _counts(lp: ir.ForRange) -> "int | None":
    return lp.step.value if isinstance(lp.step, ir.Const) and type(lp.step.value) is int else None


def _text(e: ir.Expr) -> str:
    from noodle.ir.printer import expr_text

    return expr_text(e)


def _accumulates(value: ir.Expr, x: int, at: list[str]) -> bool:
    """`value` is `X[at] + e`, `e + X[at]` or `X[at] - e` with e not reading X."""
    def element(e: ir.Expr) -> bool:
        return isinstance(e, ir.CallBuiltin) and e.name == "array.get" and isinstance(e.args[0], ir.LocalGet) \
            and e.args[0].slot == x and [_text(i) for i in e.args[1:]] == at

    def free(e: ir.Expr) -> bool:
        return not any(isinstance(n, ir.LocalGet) and n.slot == x for n in walk(e))

    if not (isinstance(value, ir.Binary) and value.op in ("float.add", "float.sub")):
        return False
    if element(value.a) and free(value.b):
        return True
    return value.op == "float.add" and element(value.b) and free(value.a)


def element_loops(f: ir.Function) -> int:
    """Rewrite `for v in x` over a 1-D Array local into `for i in 0..len(x) { v = x[i]; ... }`; how
    many.  The loop over the Array iterates over a copy of its elements taken at the start; the
    indexed loop reads each element when it gets to it — the same values as long as nothing the
    body does can store into the array: so only bodies without any store into an array, call, or
    closure (which could, through another name for the same memory) are rewritten, and only where
    `x` itself is not reassigned in the body."""
    count = 0

    def pure(body: list[ir.Stmt], x: int) -> bool:
        for s in body:
            for n in walk(s):
                if isinstance(n, (ir.Call, ir.CallMod, ir.CallValue, ir.Closure, ir.FreeSet, ir.GlobalSet,
                                  ir.FieldSet, ir.IndexSet, ir.New)):
                    return False
                if isinstance(n, ir.CallBuiltin) and not (n.name in _READS or n.name.startswith(("math.", "abs."))):
                    return False
                if isinstance(n, (ir.LocalSet, ir.ForRange, ir.ForEach)) and n.slot == x:
                    return False
        return True

    def visit(body: list[ir.Stmt]) -> list[ir.Stmt]:
        nonlocal count
        out: list[ir.Stmt] = []
        for s in body:
            for name in ("body", "then", "otherwise", "handler"):
                sub = getattr(s, name, None)
                if isinstance(sub, list):
                    setattr(s, name, visit(sub))
            it = s.iterable if isinstance(s, ir.ForEach) else None
            if isinstance(it, ir.CallBuiltin) and it.name == "array.iter" and isinstance(it.args[0], ir.LocalGet) \
                    and isinstance(prune(it.args[0].ty), ArrayT) and prune(it.args[0].ty).ndim == 1 \
                    and pure(s.body, it.args[0].slot):
                arr = it.args[0]
                pos = {"line": s.line, "col": s.col}
                slot = len(f.local_types)
                f.local_types.append(INT)
                f.local_names.append(f"{f.local_names[s.slot]}#index")
                index = ir.LocalGet(slot=slot, ty=INT, **pos)
                element = ir.CallBuiltin(name="array.get", args=[copy.deepcopy(arr), index],
                                         ty=prune(arr.ty).elem, **pos)
                length = ir.CallBuiltin(name="array.len", args=[copy.deepcopy(arr)], ty=INT, **pos)
                s = ir.ForRange(slot=slot, start=ir.Const(value=0, ty=INT, **pos), stop=length,
                                step=ir.Const(value=1, ty=INT, **pos),
                                body=[ir.LocalSet(slot=s.slot, value=element, **pos)] + s.body, **pos)
                count += 1
            out.append(s)
        return out

    f.body = visit(f.body)
    return count


#: the builtins a rewritten element loop's body may call: they read, and store nothing
_READS = frozenset({"array.get", "array.len", "array.shape", "range.incl_stop", "len", "min2", "max2"})


#: a loop unrolled by `small_loops` runs at most this many times, into at most this many statements
UNROLL_TRIPS, UNROLL_STATEMENTS = 8, 64


def small_loops(f: ir.Function) -> int:
    """Unroll, inside another loop, a loop with constant bounds and a few iterations whose body
    only assigns locals and stores into arrays (`for di in -1..=1 { s += a[i + di] }`: the offsets
    of a stencil written as loops): the same statements in the same order, the loop variable a
    constant in each copy; how many loops.  The stencil recogniser then sees the neighbourhood."""
    count = 0

    def simple(body: list[ir.Stmt], slot: int) -> bool:
        for s in body:
            if not isinstance(s, (ir.LocalSet, ir.ExprStmt)):
                return False
            if isinstance(s, ir.ExprStmt) and not (isinstance(s.expr, ir.CallBuiltin) and s.expr.name == "array.set"):
                return False
            if isinstance(s, ir.LocalSet) and s.slot == slot:
                return False
            for n in walk(s):
                if isinstance(n, (ir.Call, ir.CallMod, ir.CallValue, ir.Closure, ir.New)):
                    return False
                if isinstance(n, ir.CallBuiltin) and n.name not in _READS | {"array.set"} \
                        and not n.name.startswith(("math.", "abs.")):
                    return False
        return True

    def visit(body: list[ir.Stmt], inside: bool) -> list[ir.Stmt]:
        nonlocal count
        out: list[ir.Stmt] = []
        for s in body:
            for name in ("body", "then", "otherwise", "handler"):
                sub = getattr(s, name, None)
                if isinstance(sub, list):
                    setattr(s, name, visit(sub, inside or isinstance(s, (ir.ForRange, ir.While, ir.ForEach))))
            if inside and isinstance(s, ir.ForRange) and all(isinstance(x, ir.Const) and type(x.value) is int
                                                             for x in (s.start, s.stop, s.step)) \
                    and s.step.value == 1 and simple(s.body, s.slot) and _only_loop(f, s.slot):
                trips = max(0, s.stop.value - s.start.value)
                if trips <= UNROLL_TRIPS and trips * len(s.body) <= UNROLL_STATEMENTS:
                    for v in range(s.start.value, s.stop.value):
                        for x in s.body:
                            x = copy.deepcopy(x)
                            _substitute(x, s.slot, ir.Const(value=v, ty=INT, line=s.line, col=s.col))
                            out.append(x)
                    count += 1
                    continue
            out.append(s)
        return out

    f.body = visit(f.body, False)
    return count


def scalar_chains(f: ir.Function) -> int:
    """`var s = e0; s = s + e1; ...; X[i, j] = s / c` (s used nowhere else) as one store,
    `X[i, j] = ((e0 + e1) + ...) / c`: the same operations in the same order, the reads made at the
    same point as before relative to every store (the chain stores nothing), the store's indices
    and the rest of its value plain locals and constants (nothing there can fail first); how many."""
    count = 0
    reads: dict[int, int] = {}
    for s in f.body:
        for n in walk(s):
            if isinstance(n, ir.LocalGet):
                reads[n.slot] = reads.get(n.slot, 0) + 1

    def once(e: ir.Expr, slot: int) -> bool:
        return sum(1 for n in walk(e) if isinstance(n, ir.LocalGet) and n.slot == slot) == 1

    def plain(e: ir.Expr, slot: int) -> bool:
        """`e` reads `slot` once and, apart from it, only locals and constants (with operators)."""
        return once(e, slot) and all(isinstance(n, (ir.LocalGet, ir.Const, ir.Binary, ir.Unary)) for n in walk(e))

    def visit(body: list[ir.Stmt]) -> list[ir.Stmt]:
        nonlocal count
        out: list[ir.Stmt] = []
        k = 0
        while k < len(body):
            s = body[k]
            for name in ("body", "then", "otherwise", "handler"):
                sub = getattr(s, name, None)
                if isinstance(sub, list):
                    setattr(s, name, visit(sub))
            if isinstance(s, ir.LocalSet) and not any(isinstance(n, ir.LocalGet) and n.slot == s.slot
                                                      for n in walk(s.value)):
                slot, value, end = s.slot, s.value, k + 1
                used = 0
                while end < len(body) and isinstance(body[end], ir.LocalSet) and body[end].slot == slot \
                        and once(body[end].value, slot):
                    used += 1
                    end += 1
                last = body[end] if end < len(body) else None
                if used and isinstance(last, ir.ExprStmt) and isinstance(last.expr, ir.CallBuiltin) \
                        and last.expr.name == "array.set" \
                        and all(isinstance(x, (ir.LocalGet, ir.Const)) for x in last.expr.args[:-1]) \
                        and plain(last.expr.args[-1], slot) and reads.get(slot, 0) == used + 1:
                    for st in body[k + 1:end]:
                        value = _replace(st.value, slot, value)  # type: ignore[attr-defined]
                    last.expr.args[-1] = _replace(last.expr.args[-1], slot, value)
                    out.append(last)
                    count += 1
                    k = end + 1
                    continue
            out.append(s)
            k += 1
        return out

    f.body = visit(f.body)
    return count


def _replace(e: ir.Expr, slot: int, value: ir.Expr) -> ir.Expr:
    return rewrite_expr(e, lambda n: value if isinstance(n, ir.LocalGet) and n.slot == slot else n)


def accumulated_in_place(f: ir.Function, root: ir.ForRange) -> "ir.ForRange | None":
    """A copy of the nest at `root` with each sum through a scalar started from an element,

        var s = X[p, q]; for k in .. { s -= e }; X[p, q] = g(s)        (s read nowhere else)

    accumulated in the element itself, `for k in .. { X[p, q] -= e }; X[p, q] = g(X[p, q])`
    (Cholesky written with scalars: the form noodle.ir.intents.factorisation proves); None when
    there is none.  Without an error on the way both compute the same values: the affine analysis
    proves that no term e reads X[p, q] (`k < j` in `a[j, k]` against `a[j, j]`), and nothing else
    runs between.  (On an error the element would hold a partial sum: so this is a copy for a
    recogniser whose guard rules errors out, the loops as written kept as its fallback.)"""
    def candidates(body: list[ir.Stmt]) -> bool:
        return any(isinstance(first, ir.LocalSet) and _element_read(first.value) and isinstance(loop, ir.ForRange)
                   and isinstance(last, ir.ExprStmt) for first, loop, last in zip(body, body[1:], body[2:]))

    if not any(isinstance(n, ir.ForRange) and candidates(n.body) for n in walk(root)):
        return None  # no sum through a scalar started from an element: no copy
    reads: dict[int, int] = {}
    for s in f.body:
        for n in walk(s):
            if isinstance(n, ir.LocalGet):
                reads[n.slot] = reads.get(n.slot, 0) + 1
    nest = copy.deepcopy(root)
    changed = False

    def visit(body: list[ir.Stmt]) -> None:
        nonlocal changed
        for s in body:
            for name in ("body", "then", "otherwise"):
                sub = getattr(s, name, None)
                if isinstance(sub, list):
                    visit(sub)
        for k in range(len(body) - 2):
            first, loop, last = body[k:k + 3]
            if _in_place(f, first, loop, last, reads):
                x, idx = first.value.args[0], first.value.args[1:]  # type: ignore[attr-defined]
                update = _perfect(loop)[-1].body[0]
                element = lambda: ir.CallBuiltin(name="array.get", args=copy.deepcopy([x] + idx),  # noqa: E731
                                                 ty=FLOAT, line=update.line, col=update.col)
                value = update.value  # type: ignore[attr-defined]
                _perfect(loop)[-1].body[0] = ir.ExprStmt(expr=ir.CallBuiltin(
                    name="array.set", args=copy.deepcopy([x] + idx) + [ir.Binary(
                        op=value.op, a=element(), b=value.b, ty=FLOAT, line=value.line, col=value.col)],
                    ty=NONE_T, line=update.line, col=update.col), line=update.line, col=update.col)
                last.expr.args[-1] = _replace(last.expr.args[-1], first.slot, element())  # type: ignore[attr-defined]
                body[k] = ir.ExprStmt(expr=ir.Const(value=None, ty=NONE_T, line=first.line, col=first.col),
                                      line=first.line, col=first.col)
                changed = True
        body[:] = [s for s in body if not (isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Const))]

    visit(nest.body)
    return nest if changed else None


def _in_place(f: ir.Function, first: ir.Stmt, loop: ir.Stmt, last: ir.Stmt, reads: dict[int, int]) -> bool:
    """`first; loop; last` is `var s = X[idx]; for .. { s = s -/+ e }; X[idx] = g(s)` with e never
    reading X[idx] and s read nowhere else."""
    from noodle.ir import affine

    if not (isinstance(first, ir.LocalSet) and _element_read(first.value) and isinstance(loop, ir.ForRange)
            and isinstance(last, ir.ExprStmt) and isinstance(last.expr, ir.CallBuiltin)
            and last.expr.name == "array.set"):
        return False
    s, x, idx = first.slot, first.value.args[0], first.value.args[1:]  # type: ignore[attr-defined]
    if prune(f.local_types[s]) != FLOAT or reads.get(s, 0) != 2:
        return False
    chain = _perfect(loop)
    update = chain[-1].body
    if len(update) != 1 or not (isinstance(update[0], ir.LocalSet) and update[0].slot == s):
        return False
    value = update[0].value
    if not (isinstance(value, ir.Binary) and value.op in ("float.sub", "float.add") and isinstance(value.a, ir.LocalGet)
            and value.a.slot == s and not any(isinstance(n, ir.LocalGet) and n.slot == s for n in walk(value.b))):
        return False
    if not (last.expr.args[0].slot == x.slot if isinstance(last.expr.args[0], ir.LocalGet) else False) \
            or [_text(i) for i in last.expr.args[1:-1]] != [_text(i) for i in idx] \
            or not once(last.expr.args[-1], s):
        return False
    try:
        nest = affine.model(f, loop)
    except affine.Refused:
        return False
    target = [affine.affine(i, set(), nest.symbols) for i in idx]
    if len(nest.statements) != 1 or any(t is None or not t.symbolic() for t in target):
        return False
    st = nest.statements[0]
    rows = affine._instance_rows(st, 1)
    for acc in st.accesses:
        if acc.target == ("a", x.slot):
            if acc.write or any(sub is None for sub in acc.subscripts):
                return False
            eqs = [affine._tagged(sub - t, 1) for sub, t in zip(acc.subscripts, target)]  # type: ignore[operator]
            if affine.feasible(eqs, rows):
                return False  # a term may read the element being summed into
    return True


def once(e: ir.Expr, slot: int) -> bool:
    """`e` reads local `slot` exactly once."""
    return sum(1 for n in walk(e) if isinstance(n, ir.LocalGet) and n.slot == slot) == 1
