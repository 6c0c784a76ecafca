"""Symmetric products: a nest that scales every element of C once and, before or after, adds to it
products with the elements of one triangle of A — its strictly lower part, its diagonal, and the
same strictly lower part read transposed — computes

    C = beta * C + alpha * sym(A) * B        (or alpha * B * sym(A)),

sym(A) the symmetric matrix A's triangle stands for: BLAS's dsymm.  PolyBench's symm walks the
triangle once, adding one product to rows already scaled and summing the other through a scalar:

    for i in 0..m { for j in 0..n {
        var temp2 = 0.0
        for k in 0..i { C[k, j] += alpha * B[i, j] * A[i, k]; temp2 += B[k, j] * A[i, k] }
        C[i, j] = beta * C[i, j] + alpha * B[i, j] * A[i, i] + alpha * temp2
    } }

The recogniser reads each store into C (and the scalar sums it uses) as contributions: a
coefficient, two operands, the loops they run over.  Two facts make the nest one dsymm:

- the dependence analysis (noodle.ir.affine) shows every addition to an element comes after the
  statement scaling it (no dependence runs from an addition to the scaling), and every element
  added to is one the scaling covers: the element ends as beta * old + the sum of everything
  added, in any order;
- the contributions are, per element C[r, c], the sums over s < r, s = r and s > r of one
  triangle's elements times B[s, c] (or B[r, s] times them, for the other side), with one
  coefficient: together, the whole symmetric matrix times B.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from noodle.ir import affine
from noodle.ir import nodes as ir
from noodle.ir.affine import Affine, Refused
from noodle.ir.intents import contraction as c
from noodle.ir.types import BOOL, FLOAT, INT, NONE, STR, prune
from noodle.ir.walk import walk


@dataclass
class Piece:
    """coef * a * b added to out, over `loops` (a contribution of one statement)."""

    coef: c.Scalar
    out: c.Operand
    operands: list[c.Operand]
    loops: list[affine.Loop]
    line: int


def recognise(f: ir.Function, root: ir.ForRange) -> c.Found:
    """The dsymm replacing the nest at `root`, why a nest of that shape was left alone, or None."""
    chain = affine.perfect_loops(root)
    body = chain[-1].body
    if len(chain) != 2 or not body or not isinstance(body[-1], ir.ExprStmt):
        return None
    store = body[-1].expr
    if not (isinstance(store, ir.CallBuiltin) and store.name == "array.set"):
        return None
    from noodle.ir.printer import expr_text

    inner = [s for s in body[:-1] if isinstance(s, ir.ForRange)]
    scaled = [expr_text(x) for x in store.args[:-1]]
    if len(inner) != 1 or not any(
            isinstance(n, ir.CallBuiltin) and n.name == "array.set" and expr_text(n.args[0]) == scaled[0]
            and [expr_text(x) for x in n.args[1:-1]] != scaled[1:] for n in walk(inner[0])):
        return None  # no additions to other elements of the array inside: another shape
    try:
        return _recognise(f, root, chain, body, store)
    except Refused as e:
        return str(e)


def _recognise(f: ir.Function, root: ir.ForRange, chain: list[ir.ForRange], body: list[ir.Stmt],
               store: ir.CallBuiltin) -> ir.If:
    names = f.local_names
    line = root.line
    nest = affine.model(f, root)
    assigned = nest.symbols.assigned
    loop_slots = {lp.slot for lp in nest.loops}
    # the shape: [acc = 0.0], for .. { C[..] += ...; acc += ... }, C[r, c] = beta * C[r, c] + ... acc ...
    acc: "int | None" = None
    rest = body[:-1]
    if len(rest) == 2 and isinstance(rest[0], ir.LocalSet):
        init = rest[0]
        if not (isinstance(init.value, ir.Const) and init.value.value == 0.0 and prune(init.value.ty) == FLOAT):
            raise Refused(f"`{names[init.slot]}` does not start from 0.0", init.line)
        acc = init.slot
        rest = rest[1:]
    if len(rest) != 1 or not isinstance(rest[0], ir.ForRange):
        raise Refused("the nest is not one loop of additions between the scaling and its sum", line)
    if acc is not None and any(isinstance(n, ir.LocalGet) and n.slot == acc for st in f.body for n in walk(st)
                               if not c._inside(n, root)):
        raise Refused(f"`{names[acc]}` is read after the nest", line)
    out = c._operand(store, loop_slots)
    if out is None or len(out.vars) != 2 or len(set(out.vars)) != 2 or not c._float_array(out.local):
        raise Refused("the scaled array is not a float matrix stored at two loop variables", store.line)
    if out.vars != tuple(lp.slot for lp in chain) and out.vars != tuple(lp.slot for lp in reversed(chain)):
        raise Refused("the scaling is not indexed by the two outer loops", store.line)
    for lp in nest.loops[:2]:
        if lp.lower != Affine(0) or not lp.upper.symbolic() or not c._pure(lp.node.stop, lp.depth == 0):
            raise Refused(f"the loop over `{names[lp.slot]}` does not run from 0 to a value the nest does not "
                          "change", lp.node.line)
    sums: list[Piece] = []
    adds: list[Piece] = []
    for st in nest.statements:
        s = st.node
        if s is store or (isinstance(s, ir.ExprStmt) and s.expr is store):
            continue
        if isinstance(s, ir.LocalSet) and s.slot == acc:
            if st.loops == tuple(nest.loops[:2]):
                continue  # the initial 0.0
            sums += _additions(f, st, s.value, ("s", acc), assigned, loop_slots, names)
        elif isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.CallBuiltin) and s.expr.name == "array.set":
            if not (isinstance(s.expr.args[0], ir.LocalGet) and s.expr.args[0].slot == out.slot):
                raise Refused(f"line {s.line} stores into another array", s.line)
            adds += _additions(f, st, s.expr.args[-1], ("a", out), assigned, loop_slots, names)
        else:
            raise Refused(f"line {s.line} is neither an addition to `{names[out.slot]}` nor to a sum", s.line)
    scaling = next(st for st in nest.statements if st.node is body[-1])
    try:
        terms = c._terms(store.args[-1], assigned, acc)
    except c._NotLinear as e:
        raise Refused(f"the stored value is not a sum of products ({e})", store.line) from None
    beta: "c.Scalar | None" = None
    for coef, fs in terms:
        ops = [c._operand(x, loop_slots) if isinstance(x, ir.CallBuiltin) else None for x in fs]
        if len(fs) == 1 and ops[0] is not None and ops[0].slot == out.slot and ops[0].vars == out.vars:
            if beta is not None:
                raise Refused("the old value is scaled twice", store.line)
            beta = coef
        elif len(fs) == 1 and isinstance(fs[0], ir.LocalGet) and fs[0].slot == acc:
            adds += [Piece(coef * p.coef, out, p.operands, p.loops, p.line) for p in sums]
            sums = []
        elif len(fs) == 2 and all(o is not None for o in ops):
            adds.append(Piece(coef, out, ops, list(scaling.loops), store.line))  # type: ignore[arg-type]
        else:
            raise Refused("a term of the scaling is not the old value, a product of two elements or the sum",
                          store.line)
    if beta is None:
        raise Refused(f"the last store does not scale `{names[out.slot]}` (no beta * old value)", store.line)
    if sums:
        raise Refused("the sum is not used by the scaling", store.line)
    _ordered(nest, scaling, out, names)
    routine, flags, a, b, alpha = _symmetric(adds, out, chain, names, line)
    return _dispatch(f, root, out, chain, flags, a, b, alpha, beta, routine)


def _additions(f: ir.Function, st: affine.Statement, value: ir.Expr, target: tuple, assigned: set[int],
               loop_slots: set[int], names: list[str]) -> list[Piece]:
    """`target = target + sum of coef * x * y`: the pieces (target an array element or the sum)."""
    kind, what = target
    try:
        terms = c._terms(value, assigned, what if kind == "s" else None)
    except c._NotLinear as e:
        raise Refused(f"line {st.node.line}: what is added is not a sum of products ({e})", st.node.line) from None
    own = 0
    pieces = []
    out = None
    if kind == "a":
        out = c._operand(st.node.expr, loop_slots)  # type: ignore[attr-defined]
        if out is None or len(set(out.vars)) != 2:
            raise Refused(f"line {st.node.line} stores at something other than two loop variables", st.node.line)
    for coef, fs in terms:
        if kind == "s" and len(fs) == 1 and isinstance(fs[0], ir.LocalGet):
            own += 1 if coef.constant == 1.0 else 99
            continue
        ops = [c._operand(x, loop_slots) if isinstance(x, ir.CallBuiltin) else None for x in fs]
        if kind == "a" and len(ops) == 1 and ops[0] is not None and ops[0].slot == out.slot and ops[0].vars == out.vars:
            own += 1 if coef.constant == 1.0 else 99
            continue
        if len(ops) != 2 or any(o is None or not c._float_array(o.local) or len(o.vars) not in (1, 2) for o in ops):
            raise Refused(f"line {st.node.line}: what is added is not a product of two array elements",
                          st.node.line)
        pieces.append(Piece(coef, out, ops, list(st.loops), st.node.line))  # type: ignore[arg-type]
    if own != 1:
        raise Refused(f"line {st.node.line} does not only add to what it stores", st.node.line)
    return pieces


def _ordered(nest: affine.Nest, scaling: affine.Statement, out: c.Operand, names: list[str]) -> None:
    """Every addition to an element of `out` comes after the scaling of that element, and touches
    an element the scaling covers; raises Refused."""
    target = ("a", out.slot)
    for d in affine.dependences(nest):
        if d.source_access.target != target:
            continue
        if d.sink is scaling and d.source is not scaling:
            raise Refused(f"line {d.source.node.line} adds to an element of `{names[out.slot]}` before line "
                          f"{scaling.node.line} scales it", d.source.node.line)
    by = {lp.slot: lp for lp in scaling.loops}
    for st in nest.statements:
        for acc in st.accesses:
            if acc.target != target or st is scaling:
                continue
            base = affine._instance_rows(st, 1)
            for sub, v in zip(acc.subscripts, out.vars):
                if sub is None:
                    raise Refused("an element of the scaled array is not at an affine position", st.node.line)
                sc, sk = affine._tagged(sub, 1)
                hc, hk = affine._tagged(by[v].upper, 1)  # the scaling runs from 0 to a symbolic bound
                below = ({k: -x for k, x in sc.items()}, -sk - 1)  # sub <= -1
                above = ({**sc, **{k: sc.get(k, 0) - x for k, x in hc.items()}}, sk - hk)  # sub >= upper
                for outside in (below, above):
                    if affine.feasible([], base + [outside]):
                        raise Refused(f"line {st.node.line} adds to elements of `{names[out.slot]}` the scaling "
                                      "does not cover", st.node.line)


def _symmetric(adds: list[Piece], out: c.Operand, chain: list[ir.ForRange], names: list[str], line: int):
    """The routine's side and triangle, A, B and alpha, when the additions are sym(A) * B (or B *
    sym(A)) for one triangle of A; raises Refused."""
    if len(adds) != 3:
        raise Refused(f"{len(adds)} products are added to `{names[out.slot]}` (a symmetric product is three: "
                      "below the diagonal, on it, above it)", line)
    alpha = adds[0].coef
    if not all(p.coef.same(alpha) for p in adds[1:]):
        raise Refused("the products added have different coefficients", line)
    outer = {lp.slot: lp.stop for lp in chain}
    extent = [outer[out.vars[0]], outer[out.vars[1]]]  # rows, columns of the scaled block
    from noodle.ir.printer import expr_text

    def readings(p: Piece) -> "list[tuple[str, c.Operand, c.Operand, int]]":
        """(side, the symmetric matrix, the other, the row of sym(A) read) for each way to read the
        product: side L is sym(A)[r, s] * B[s, col], side R is B[r, s] * sym(A)[s, col]."""
        r, col = p.out.vars
        sums = [lp.slot for lp in p.loops if lp.slot not in p.out.vars]
        if len(sums) > 1:
            return []
        k = sums[0] if sums else None
        out = []
        for a, b in (tuple(p.operands), tuple(reversed(p.operands))):
            if len(a.vars) != 2 or len(b.vars) != 2:
                continue
            if b.vars == ((k if k is not None else r), col) and set(a.vars) <= {r, k if k is not None else r}:
                out.append(("L", a, b, r))
            if b.vars == (r, (k if k is not None else col)) and set(a.vars) <= {col, k if k is not None else col}:
                out.append(("R", a, b, col))
        return out

    options = [readings(p) for p in adds]
    keys = [{(side, a.slot, b.slot) for side, a, b, _ in o} for o in options]
    common = set.intersection(*keys) if keys else set()
    if len(common) != 1:
        raise Refused("the products added are not all the same two matrices on the same side", line)
    side, a_slot, b_slot = common.pop()
    found: dict[str, set[str]] = {}
    for p, o in zip(adds, options):
        r, col = p.out.vars
        by = {lp.slot: lp for lp in p.loops}
        sums = [lp.slot for lp in p.loops if lp.slot not in p.out.vars]
        s = sums[0] if sums else None
        _, a, b, row = next(x for x in o if (x[0], x[1].slot, x[2].slot) == (side, a_slot, b_slot))
        if a.slot == out.slot or b.slot == out.slot:
            raise Refused(f"a product reads `{names[out.slot]}`, the array it adds to", p.line)
        free = col if side == "L" else r  # the dimension the product does not sum along
        flp = by[free]
        if flp.lower != Affine(0) or expr_text(flp.node.stop) != expr_text(extent[1 if side == "L" else 0]):
            raise Refused(f"line {p.line}: the loop over `{names[free]}` does not cover the scaled "
                          f"{'columns' if side == 'L' else 'rows'}", p.line)
        if s is None:
            if a.vars != (row, row):
                raise Refused(f"line {p.line}: the product is not with the diagonal", p.line)
            found.setdefault("diagonal", set()).add("=")
            continue
        if set(a.vars) != {row, s}:
            raise Refused(f"line {p.line}: the matrix is not read at the row and the sum's variable", p.line)
        tri = c._triangle(p.loops, row, s)
        if tri is None or not tri.strict:
            raise Refused(f"line {p.line}: the sum over `{names[s]}` is not the part of a row below or above "
                          "the diagonal", p.line)
        if expr_text(tri.size) != expr_text(extent[0 if side == "L" else 1]):
            raise Refused(f"line {p.line}: the triangle is not the size of the scaled block", p.line)
        # the element of A read, as (row index, column index) relative to the diagonal
        s_below = tri.kind == "lower"  # s < row
        transposed = a.vars == (s, row)
        in_lower = s_below != transposed  # A[row, s] with s < row, or A[s, row] with s > row
        found.setdefault("below" if s_below else "above", set()).add("L" if in_lower else "U")
    if set(found) != {"below", "above", "diagonal"}:
        raise Refused("the products added do not cover the diagonal and both sides of it", line)
    tris = found["below"] | found["above"]
    if len(tris) != 1:
        raise Refused("the products read both triangles of the matrix (sym(A) reads one)", line)
    uplo = tris.pop()
    return "blas.symm", side + uplo, a_slot, b_slot, alpha


def _dispatch(f: ir.Function, root: ir.ForRange, out: c.Operand, chain: list[ir.ForRange], flags: str, a: int,
              b: int, alpha: c.Scalar, beta: c.Scalar, routine: str) -> ir.If:
    from noodle.ir.nest import all_of

    names = f.local_names
    pos = {"line": root.line, "col": root.col}
    local = lambda s: ir.LocalGet(slot=s, ty=f.local_types[s], **pos)  # noqa: E731
    rows, cols = (chain[0].stop, chain[1].stop) if out.vars[0] == chain[0].slot else (chain[1].stop, chain[0].stop)
    size = rows if flags[0] == "L" else cols

    def length(slot: int, d: int) -> ir.Expr:
        return c.dimension(local(slot), d, pos)

    conds: list[ir.Expr] = [ir.CallBuiltin(name="blas.fits", args=[ir.Const(value=1, ty=INT, **pos)]
                                           + [local(s) for s in (out.slot, a, b)], ty=BOOL, **pos)]
    for slot, d, e in ((out.slot, 0, rows), (out.slot, 1, cols), (b, 0, rows), (b, 1, cols), (a, 0, size),
                       (a, 1, size)):
        conds.append(ir.Binary(op="cmp.le", a=copy.deepcopy(e), b=length(slot, d), ty=BOOL, **pos))
    for d in alpha.divisors + beta.divisors:
        conds.append(c._nonzero(d, pos))
    alpha_e, beta_e = alpha.build(pos), beta.build(pos)
    if alpha.constant is None or alpha.constant == 0.0:
        conds.append(c._nonzero(alpha_e, pos))
    if beta.constant is None or beta.constant == 0.0:
        conds.append(c._nonzero(beta_e, pos))
    args: list[ir.Expr] = [ir.Const(value=flags, ty=STR, **pos), copy.deepcopy(rows), copy.deepcopy(cols),
                           alpha_e, local(a), local(b), beta_e, local(out.slot)]
    call = ir.ExprStmt(expr=ir.CallBuiltin(name=routine, args=args, ty=NONE, **pos), **pos)
    tri = "lower" if flags[1] == "L" else "upper"
    product = f"sym({names[a]}) * {names[b]}" if flags[0] == "L" else f"{names[b]} * sym({names[a]})"
    root.note = (f"dsymm ({tri} triangle of `{names[a]}`): {names[out.slot]} = {c._times(alpha, names)}{product}"
                 f"{c._plus(beta, names[out.slot], names)}")
    return ir.If(cond=all_of(conds, pos), then=[call], otherwise=[root], intent="contraction", **pos)
