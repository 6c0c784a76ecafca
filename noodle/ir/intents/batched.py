"""Batched contractions: the same matrix-vector product for every row of an array, through a
temporary vector, then copied back (PolyBench's doitgen):

    for r in 0..nr { for q in 0..nq {                       // the batch loops, any number
        for p in 0..np { t[p] = 0.0; for s in 0..np { t[p] += A[r, q, s] * C4[s, p] } }
        for p in 0..np { A[r, q, p] = t[p] }                 // the row written back (or to Y)
    } }

Each batch is `t = alpha * op(M) * X[b.., :]` (a gemv, recognised by noodle.ir.intents.contraction
with the row standing for a vector), then `Y[b.., :] = t`.  Rows of different batches are distinct,
so every row can be computed before any is written back: the whole nest is one dgemm of the
flattened rows, `T = alpha * X[rows, :] * op(M)`, copied into Y's rows, and t is left holding the last
row, as the loops leave it:

    if <guard> { blas.gemm_rows(flags, nr, np, np, alpha, A, C4, A, t) } else { <the nest> }

The guard adds to a contraction's: the batch loops after the first run over the whole dimension
they index (so the rows flatten), and X and Y have the same shape there.
"""
from __future__ import annotations

import copy

from noodle.ir import affine
from noodle.ir import nodes as ir
from noodle.ir.affine import Affine, Refused
from noodle.ir.intents import contraction as c
from noodle.ir.types import BOOL, FLOAT, INT, NONE, STR, ArrayT, prune
from noodle.ir.walk import walk


def recognise(f: ir.Function, root: ir.ForRange) -> c.Found:
    """The batched dispatch replacing the nest at `root`, why a nest of that shape was left alone,
    or None for a nest of another shape."""
    chain = affine.perfect_loops(root)
    body = chain[-1].body
    if len(body) != 2 or not all(isinstance(x, ir.ForRange) for x in body):
        return None
    compute, store = body
    copied = _copy_back(store, chain)
    if copied is None:
        return _reordered(f, root, chain, store)
    if not c.looks_like_one(compute):  # type: ignore[arg-type]
        return None
    y, t, width = copied
    try:
        return _dispatch(f, root, chain, compute, store, y, t, width)  # type: ignore[arg-type]
    except Refused as e:
        return str(e)


def _reordered(f: ir.Function, root: ir.ForRange, chain: list[ir.ForRange], store: ir.ForRange) -> c.Found:
    """The nest whose rows are written `Y[r, q, p]` by batch loops in another order (`for q { for r`):
    recognised with its batch loops put in the order of the subscripts, the loops as written kept
    as the fallback.  The batches are independent (each computes its own row into `t` before copying
    it), so their order changes nothing — not even what `t` holds at the end: the last batch is the
    last in every order.  Loops whose bounds use another batch variable are not reordered."""
    if len(chain) < 2 or len(store.body) != 1 or not isinstance(store.body[0], ir.ExprStmt):
        return None
    e = store.body[0].expr
    if not (isinstance(e, ir.CallBuiltin) and e.name == "array.set"):
        return None
    order = [x.slot if isinstance(x, ir.LocalGet) else None for x in e.args[1:-2]]
    slots = [lp.slot for lp in chain]
    if sorted(order, key=str) != sorted(slots, key=str) or order == slots:  # type: ignore[type-var]
        return None
    bounds = {n.slot for lp in chain for x in (lp.start, lp.stop, lp.step) for n in walk(x) if isinstance(n, ir.LocalGet)}
    if bounds & set(slots):
        return None
    moved = copy.deepcopy(root)
    loops = affine.perfect_loops(moved)[:len(chain)]
    header = {lp.slot: (lp.slot, lp.start, lp.stop, lp.step, lp.line, lp.col) for lp in chain}
    for lp, slot in zip(loops, order):
        lp.slot, lp.start, lp.stop, lp.step, lp.line, lp.col = copy.deepcopy(header[slot])  # type: ignore[index]
    with c.standing_in(moved, root):
        found = recognise(f, moved)
    if isinstance(found, ir.If):
        root.note = moved.note
        found.otherwise = [root]
        found.line, found.col = root.line, root.col
    return found


def _copy_back(store: ir.ForRange, chain: list[ir.ForRange]) -> "tuple[ir.LocalGet, ir.LocalGet, ir.Expr] | None":
    """`for p in 0..P { Y[b.., p] = t[p] }` with b.. the batch variables in order: (Y, t, P)."""
    if len(store.body) != 1 or not isinstance(store.body[0], ir.ExprStmt):
        return None
    e = store.body[0].expr
    if not (isinstance(e, ir.CallBuiltin) and e.name == "array.set" and isinstance(e.args[0], ir.LocalGet)):
        return None
    index, value = e.args[1:-1], e.args[-1]
    want = [lp.slot for lp in chain] + [store.slot]
    if [x.slot if isinstance(x, ir.LocalGet) else None for x in index] != want:
        return None
    if not (isinstance(value, ir.CallBuiltin) and value.name == "array.get" and len(value.args) == 2
            and isinstance(value.args[0], ir.LocalGet) and isinstance(value.args[1], ir.LocalGet)
            and value.args[1].slot == store.slot):
        return None
    if not (isinstance(store.start, ir.Const) and store.start.value == 0):
        return None
    return e.args[0], value.args[0], store.stop


def _float(local: ir.LocalGet, ndim: int) -> bool:
    t = prune(local.ty)
    return isinstance(t, ArrayT) and t.elem == FLOAT and t.ndim == ndim


def _dispatch(f: ir.Function, root: ir.ForRange, chain: list[ir.ForRange], compute: ir.ForRange,
              store: ir.ForRange, y: ir.LocalGet, t: ir.LocalGet, width: ir.Expr) -> ir.If:
    names = f.local_names
    line = root.line
    pos = {"line": root.line, "col": root.col}
    batch = [lp.slot for lp in chain]
    if not _float(t, 1):
        raise Refused(f"`{names[t.slot]}` is not a float vector", line)
    if not _float(y, len(batch) + 1):
        raise Refused(f"`{names[y.slot]}` is not a float array indexed by the batch loops and one more", line)
    nest = affine.model(f, root)
    for lp in nest.loops[:len(batch)]:
        if lp.lower != Affine(0) or not lp.upper.symbolic() or not c._pure(lp.node.stop, lp.depth == 0):
            raise Refused(f"the batch loop over `{names[lp.slot]}` does not run from 0 to a value the nest "
                          "does not change", lp.node.line)
    if not c._pure(width):
        raise Refused("the bound of the copy loop is computed with an overflow check", store.line)
    # the row X[b.., :] stands for a vector: a new local, for the contraction recogniser to see
    x, fake = _row_as_vector(f, compute, batch)
    try:
        return _build(f, root, chain, compute, store, y, t, width, x, fake, pos)
    finally:
        f.local_types.pop()
        f.local_names.pop()


def _row_as_vector(f: ir.Function, compute: ir.ForRange, batch: list[int]) -> "tuple[ir.LocalGet, ir.ForRange]":
    """The array X that `compute` reads at X[b.., s] (the batch variables, then one more), and a copy
    of `compute` reading a new vector local instead."""
    names = f.local_names
    line = compute.line
    rows: "ir.LocalGet | None" = None
    for n in walk(compute):
        if isinstance(n, ir.CallBuiltin) and n.name == "array.get" and isinstance(n.args[0], ir.LocalGet):
            index = n.args[1:]
            lead = [x.slot if isinstance(x, ir.LocalGet) else None for x in index[:-1]]
            if lead == batch and len(index) == len(batch) + 1:
                if rows is not None and rows.slot != n.args[0].slot:
                    raise Refused("more than one array is read by rows of the batch", line)
                rows = n.args[0]
    if rows is None or not _float(rows, len(batch) + 1):
        raise Refused("no float array is read by rows of the batch", line)
    slot = len(f.local_types)
    vec = ArrayT(FLOAT, 1)
    f.local_types.append(vec)
    f.local_names.append(f"{names[rows.slot]}[row]")

    fake = copy.deepcopy(compute)
    for n in list(walk(fake)):
        if isinstance(n, ir.CallBuiltin) and n.name == "array.get" and isinstance(n.args[0], ir.LocalGet) \
                and n.args[0].slot == rows.slot and len(n.args) == len(batch) + 2 \
                and [x.slot if isinstance(x, ir.LocalGet) else None for x in n.args[1:-1]] == batch:
            n.args = [ir.LocalGet(slot=slot, ty=vec, line=n.line, col=n.col), n.args[-1]]
    sizes = {id(x) for n in walk(fake) if isinstance(n, ir.CallBuiltin) and n.name in ("array.len", "array.shape")
             for x in n.args}  # the row's array may give the loops their bounds
    for n in walk(fake):
        if isinstance(n, ir.LocalGet) and n.slot in batch:
            raise Refused("the batch's product uses a batch variable other than to pick the row", line)
        if isinstance(n, ir.LocalGet) and n.slot == rows.slot and id(n) not in sizes:
            raise Refused(f"`{names[rows.slot]}` is read other than by rows of the batch", line)
    return rows, fake  # type: ignore[return-value]


def _build(f: ir.Function, root: ir.ForRange, chain: list[ir.ForRange], compute: ir.ForRange, store: ir.ForRange,
           y: ir.LocalGet, t: ir.LocalGet, width: ir.Expr, x: ir.LocalGet, fake: ir.ForRange,
           pos: dict[str, int]) -> ir.If:
    from noodle.ir.nest import all_of
    from noodle.ir.printer import expr_text

    names = f.local_names
    line = compute.line
    fake_slot = len(f.local_types) - 1
    pieces = c._pieces(f, fake, names, compute)
    calls = c._fold(pieces, names)
    if len(calls) != 1 or not isinstance(calls[0], c.Call):
        raise Refused("the batch's computation is not one product", line)
    call = calls[0]
    if call.product.out.slot != t.slot:
        raise Refused(f"the batch's product is not stored into `{names[t.slot]}`", line)
    if call.beta.constant != 0.0:
        raise Refused(f"the batch's product adds to what `{names[t.slot]}` held (the previous batch's row)", line)
    routine = c._routine(call, names, pos)
    if routine.name != "blas.gemv" or routine.arrays[1].slot != fake_slot:  # type: ignore[attr-defined]
        raise Refused("the batch's product is not a matrix times the row", line)
    if expr_text(routine.sizes[0]) != expr_text(width):
        raise Refused("the copy back does not run over the elements the product computes", store.line)
    m = routine.arrays[0]
    if m.slot == y.slot:  # type: ignore[attr-defined]
        raise Refused(f"the matrix `{names[y.slot]}` is also the array the rows are written to", line)
    flags = "T" if routine.flags == "N" else "N"  # t = op(M) x  <=>  T = X op(M)ᵀ
    local = lambda s: ir.LocalGet(slot=s, ty=f.local_types[s], **pos)  # noqa: E731

    def length(slot: int, d: int) -> ir.Expr:
        return c.dimension(local(slot), d, pos)

    written = [y.slot, t.slot]
    others = [s for s in (x.slot, m.slot) if s not in written]  # type: ignore[attr-defined]
    conds: list[ir.Expr] = [ir.CallBuiltin(name="blas.fits", args=[ir.Const(value=2, ty=INT, **pos)]
                                           + [local(s) for s in written + others], ty=BOOL, **pos)]
    first = chain[0].stop
    for arr in {x.slot, y.slot}:
        conds.append(ir.Binary(op="cmp.le", a=copy.deepcopy(first), b=length(arr, 0), ty=BOOL, **pos))
        for d, lp in enumerate(chain[1:], start=1):  # the rows flatten: whole dimensions after the first
            conds.append(ir.Binary(op="cmp.eq", a=copy.deepcopy(lp.stop), b=length(arr, d), ty=BOOL, **pos))
    last = len(chain)
    conds.append(ir.Binary(op="cmp.le", a=copy.deepcopy(width), b=length(y.slot, last), ty=BOOL, **pos))
    for slot, d, extent in routine.fits:
        target = (x.slot, last) if slot == fake_slot else (slot, d)
        conds.append(ir.Binary(op="cmp.le", a=copy.deepcopy(extent), b=length(*target), ty=BOOL, **pos))
    for d in call.alpha.divisors + [z for term in call.product.terms for z in term.coef.divisors]:
        conds.append(c._nonzero(d, pos))
    if call.alpha.constant is None or call.alpha.constant == 0.0:
        conds.append(c._nonzero(routine.alpha, pos))
    args: list[ir.Expr] = [ir.Const(value=flags, ty=STR, **pos), copy.deepcopy(first),
                           copy.deepcopy(routine.sizes[0]), copy.deepcopy(routine.sizes[1]),
                           copy.deepcopy(routine.alpha), local(x.slot), local(m.slot), local(y.slot),  # type: ignore[attr-defined]
                           local(t.slot)]
    then: list[ir.Stmt] = [ir.ExprStmt(expr=ir.CallBuiltin(name="blas.gemm_rows", args=args, ty=NONE, **pos), **pos)]
    rows = ", ".join(names[s] for s in (lp.slot for lp in chain))
    product = routine.text.split(": ", 1)[1].replace(names[fake_slot] + "[", f"{names[x.slot]}[{rows}, ")
    root.note = (f"batched dgemm, one row per ({rows}): {product}, copied into "
                 f"{names[y.slot]}[{rows}, {names[store.slot]}]")
    return ir.If(cond=all_of(conds, pos), then=then, otherwise=[root], intent="contraction", **pos)


def recognise_slices(f: ir.Function, root: ir.ForRange) -> c.Found:
    """A product for each slice of 3-D arrays: `for t in 0..T { <a matrix product> }` whose every
    array access is `X[t, ..]` (a batched matmul, `c[t, i, j] += a[t, i, k] * b[t, k, j]`), `t` used
    for nothing else: `blas.gemm_batch`, one dgemm per slice, when the inner nest is a product of
    the slices (recognised by noodle.ir.intents.contraction on a copy reading 2-D stand-ins) and
    every slice exists (T fits each array's first dimension).  None for a nest of another shape."""
    if not (isinstance(root.start, ir.Const) and root.start.value == 0 and isinstance(root.step, ir.Const)
            and root.step.value == 1 and len(root.body) == 1 and isinstance(root.body[0], ir.ForRange)):
        return None
    t = root.slot
    accesses = [n for n in walk(root.body[0]) if isinstance(n, ir.CallBuiltin) and n.name in ("array.get", "array.set")]
    if not accesses or not all(isinstance(n.args[0], ir.LocalGet) and len(n.args) >= 3
                               and isinstance(n.args[1], ir.LocalGet) and n.args[1].slot == t for n in accesses):
        return None
    uses = sum(1 for n in walk(root.body[0]) if isinstance(n, ir.LocalGet) and n.slot == t)
    slots = sorted({n.args[0].slot for n in accesses})  # type: ignore[union-attr]
    if uses != len(accesses) or not all(_float(ir.LocalGet(slot=s, ty=f.local_types[s]), 3) for s in slots):
        return None
    names = f.local_names
    if not c._pure(root.stop, True):
        return f"the bound of the loop over `{names[t]}` is not a value the guard can compute again"
    base = len(f.local_types)
    fake = {s: base + k for k, s in enumerate(slots)}
    for s in slots:
        f.local_types.append(ArrayT(FLOAT, 2))
        f.local_names.append(f"{names[s]}[{names[t]}]")
    try:
        inner = copy.deepcopy(root.body[0])
        for n in walk(inner):
            if isinstance(n, ir.CallBuiltin) and n.name in ("array.get", "array.set"):
                arr = n.args[0]
                n.args = [ir.LocalGet(slot=fake[arr.slot], ty=ArrayT(FLOAT, 2), line=arr.line, col=arr.col)] + n.args[2:]
        with c.standing_in(inner, root):
            found = c.recognise(f, inner)
        if not isinstance(found, ir.If):
            return found
        call = found.then[0] if len(found.then) == 1 else None
        if not (isinstance(call, ir.ExprStmt) and isinstance(call.expr, ir.CallBuiltin) and call.expr.name == "blas.gemm"):
            return "the product of each slice is not one matrix product"
        real = {v: s for s, v in fake.items()}
        found.cond = _to_slices(found.cond, real, f)
        call.expr = _to_slices(call.expr, real, f)  # type: ignore[assignment]
        call.expr.name = "blas.gemm_batch"  # type: ignore[attr-defined]
        call.expr.args.insert(1, copy.deepcopy(root.stop))  # type: ignore[attr-defined]
        pos = {"line": root.line, "col": root.col}
        from noodle.ir.nest import all_of

        conds = [found.cond] + [ir.Binary(op="cmp.le", a=copy.deepcopy(root.stop), b=c.dimension(
            ir.LocalGet(slot=s, ty=f.local_types[s], **pos), 0, pos), ty=BOOL, **pos) for s in slots]
        found.cond = all_of(conds, pos)
        root.note = f"batched dgemm, one per slice `{names[t]}`: " + inner.note.split(": ", 1)[-1]
        found.otherwise = [root]
        found.line, found.col = root.line, root.col
        return found
    finally:
        del f.local_types[base:], f.local_names[base:]


def _to_slices(e: ir.Expr, real: dict[int, int], f: ir.Function) -> ir.Expr:
    """`e` (from the product of the 2-D stand-ins) on the 3-D arrays: a stand-in's dimension d is the
    array's d + 1, the stand-in itself the array (the call then takes the slices)."""
    from noodle.ir.walk import rewrite_expr

    def fn(n: ir.Expr) -> ir.Expr:
        pos = {"line": n.line, "col": n.col}
        if isinstance(n, ir.CallBuiltin) and n.name == "array.len" and isinstance(n.args[0], ir.LocalGet) \
                and n.args[0].slot in real:
            return c.dimension(ir.LocalGet(slot=real[n.args[0].slot], ty=f.local_types[real[n.args[0].slot]], **pos),
                               1, pos)
        if isinstance(n, ir.Index) and isinstance(n.obj, ir.CallBuiltin) and n.obj.name == "array.shape" \
                and isinstance(n.obj.args[0], ir.LocalGet) and n.obj.args[0].slot in real \
                and isinstance(n.index, ir.Const):
            s = real[n.obj.args[0].slot]
            return c.dimension(ir.LocalGet(slot=s, ty=f.local_types[s], **pos), n.index.value + 1, pos)
        return n

    e = rewrite_expr(e, fn)
    for n in walk(e):
        if isinstance(n, ir.LocalGet) and n.slot in real:
            n.slot, n.ty = real[n.slot], f.local_types[real[n.slot]]
    return e
