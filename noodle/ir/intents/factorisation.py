"""Factorisations: a loop nest that computes the Cholesky factor of a square array in place,

    A = L Lᵀ    (L the lower triangle, written over A's; its upper triangle untouched)
    A = Uᵀ U    (U the upper triangle, the same written transposed)

in whatever order its loops run — PolyBench's (row by row: the elements left of the diagonal,
then the diagonal), left-looking (column by column), right-looking (each column, then the
outer-product update of the trailing matrix) — becomes one call of LAPACK's blocked `dpotrf`.

The recognition reads the nest as *steps* on one array X, each a statement of the nest:

    update   X[p, q] = X[p, q] - X[p, r] * X[q, r]     (q <= p, r < q: the subtraction of one product)
    divide   X[p, q] = X[p, q] / X[q, q]               (q < p)
    root     X[p, p] = sqrt(X[p, p])                   (`math.sqrt` or the prelude's `sqrt`)

(for the upper form every subscript pair is read transposed), and proves with the affine
analysis (noodle.ir.affine: integer feasibility of the statements' instances) that

- each step happens exactly once for each (p, q, r) of the factorisation of the leading n x n
  block, n the bound of the outermost loop: every statement's instances fall inside that set,
  no two instances coincide, and no point of the set is missed;
- every step reads final values: an update follows the divisions that finish X[p, r] and X[q, r]
  and precedes the division (or the root) that finishes X[p, q]; a division follows the root
  of its diagonal element.

Those facts are the definition of the factorisation: the result is L, up to the order the
products of each element are subtracted in (the reassociation a BLAS call is allowed).  Anything
else in the nest — another statement, another array, a scalar, a different product, a bound off
by one — fails a proof and the nest is left alone, with the reason for `--explain`.

The dispatch, `If.intent = "factorisation"`:

    if blas.fits(1, X) and n <= len(X) and n <= X.shape[1] and lapack.potrf(triangle, n, X) {
    } else { <the nest as written> }

`lapack.potrf` factors in place and answers whether it did: when LAPACK finds the matrix not
positive definite (or a non-finite element), it puts back the triangle it had saved and answers
no, and the loops run — failing, or producing NaNs, exactly where the program's own loops do.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from noodle.ir import affine
from noodle.ir import nodes as ir
from noodle.ir.affine import Affine, Refused, Row
from noodle.ir.types import BOOL, FLOAT, INT, STR, ArrayT, prune
from noodle.ir.walk import walk

#: what a step does, and how many coordinates it has: (p, q, r), (p, q), (p,)
KINDS = {"update": 3, "divide": 2, "root": 1}


@dataclass(eq=False)
class Step:
    """A statement of the nest read as a step of the factorisation, at logical coordinates."""

    kind: str
    st: affine.Statement
    coords: tuple[Affine, ...]

    @property
    def line(self) -> int:
        return self.st.node.line


def looks_like_one(root: ir.ForRange) -> bool:
    """Does the nest store into an array the square root of one of its elements, or an element
    divided by a diagonal element (what a factorisation does)?"""
    for n in walk(root):
        if not (isinstance(n, ir.CallBuiltin) and n.name == "array.set" and isinstance(n.args[0], ir.LocalGet)):
            continue
        x, value = n.args[0].slot, n.args[-1]
        if isinstance(value, ir.CallBuiltin) and value.name == "math.sqrt" and _get(value.args[0], x) is not None:
            return True
        if isinstance(value, ir.Binary) and value.op == "float.div" and _get(value.a, x) is not None:
            d = _get(value.b, x)
            if d is not None and all(isinstance(e, ir.LocalGet) for e in d) and d[0].slot == d[1].slot:  # type: ignore[union-attr]
                return True
    return False


def recognise(f: ir.Function, root: ir.ForRange) -> "ir.If | str | None":
    """The dispatch replacing a Cholesky factorisation at `root`, why a nest that looks like one
    was left alone, or None for a nest nothing like one."""
    if not looks_like_one(root):
        return None
    try:
        return _recognise(f, root)
    except Refused as e:
        return str(e)


def _recognise(f: ir.Function, root: ir.ForRange) -> ir.If:
    names = f.local_names
    nest = affine.model(f, root)
    outer = nest.loop_of(root)
    if outer.lower != Affine(0) or not outer.upper.symbolic():
        raise Refused(f"the loop over `{names[root.slot]}` does not run from 0 to a value the nest does not change",
                      root.line)
    from noodle.ir.intents.contraction import _pure

    if not _pure(root.stop, True):
        raise Refused(f"the bound of the loop over `{names[root.slot]}` is not a value the guard can compute again",
                      root.line)
    stores = []
    for st in nest.statements:
        s = st.node
        if not (isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.CallBuiltin) and s.expr.name == "array.set"):
            raise Refused(f"line {s.line} is not a store into the factorised array (a scalar in the nest)", s.line)
        stores.append((st, s.expr))
    x = stores[0][1].args[0].slot  # type: ignore[union-attr]
    t = prune(f.local_types[x])
    if not (isinstance(t, ArrayT) and t.elem == FLOAT and t.ndim == 2):
        raise Refused(f"`{names[x]}` is not a float matrix", root.line)
    for st, store in stores:
        if store.args[0].slot != x:  # type: ignore[union-attr]
            raise Refused(f"line {st.node.line} also writes `{names[store.args[0].slot]}`: the nest does more than "  # type: ignore[union-attr]
                          f"factorise `{names[x]}`", st.node.line)
    raw = [_step(st, store, x, nest, names) for st, store in stores]
    lower = _orientation(raw, names, root.line)
    steps = [_oriented(kind, st, subs, lower, names) for kind, st, subs in raw]
    by_kind = {k: [s for s in steps if s.kind == k] for k in KINDS}
    n = affine._tagged(outer.upper, 0)
    for kind, group in by_kind.items():
        _exactly_once(kind, group, n, names)
    _ordered(by_kind, names)
    return _dispatch(f, root, x, lower)


# ---------------------------------------------------------------- reading the steps

def _get(e: ir.Expr, x: int) -> "list[ir.Expr] | None":
    """The subscripts of a read of an element of array x, else None."""
    if isinstance(e, ir.CallBuiltin) and e.name == "array.get" and isinstance(e.args[0], ir.LocalGet) \
            and e.args[0].slot == x and len(e.args) == 3:
        return list(e.args[1:])
    return None


def _step(st: affine.Statement, store: ir.CallBuiltin, x: int, nest: affine.Nest,
          names: list[str]) -> "tuple[str, affine.Statement, list[list[Affine]]]":
    """(kind, statement, the subscript pairs it uses: written element first) of one store."""
    in_scope = {lp.slot for lp in st.loops}
    line = st.node.line

    def pair(subs: list[ir.Expr]) -> list[Affine]:
        out = [affine.affine(e, in_scope, nest.symbols) for e in subs]
        if any(a is None for a in out):
            raise Refused(f"line {line}: an element of `{names[x]}` is not at a position affine in the loop "
                          "variables", line)
        return out  # type: ignore[return-value]

    written = pair(store.args[1:3])
    value = store.args[3]
    what = (f"line {line} stores into `{names[x]}` something other than a step of a Cholesky factorisation "
            "(the element minus a product of two elements, the element divided by a diagonal element, or "
            "the square root of a diagonal element)")
    if isinstance(value, ir.CallBuiltin) and value.name == "math.sqrt":
        subs = _get(value.args[0], x)
        if subs is None or pair(subs) != written or written[0] != written[1]:
            raise Refused(what, line)
        return "root", st, [written]
    if not isinstance(value, ir.Binary) or value.op not in ("float.sub", "float.div"):
        raise Refused(what, line)
    own = _get(value.a, x)
    if own is None or pair(own) != written:
        raise Refused(f"line {line}: the value stored into `{names[x]}` does not start from the element itself",
                      line)
    if value.op == "float.div":
        d = _get(value.b, x)
        if d is None:
            raise Refused(what, line)
        diag = pair(d)
        if diag[0] != diag[1]:
            raise Refused(f"line {line} divides by an element of `{names[x]}` off its diagonal", line)
        return "divide", st, [written, diag]
    product = value.b
    if not (isinstance(product, ir.Binary) and product.op == "float.mul"):
        raise Refused(f"line {line} subtracts something other than a product of two elements of `{names[x]}`",
                      line)
    a, b = _get(product.a, x), _get(product.b, x)
    if a is None or b is None:
        raise Refused(f"line {line} subtracts something other than a product of two elements of `{names[x]}`",
                      line)
    return "update", st, [written, pair(a), pair(b)]


def _orientation(raw: list, names: list[str], line: int) -> bool:
    """True when the nest writes the lower triangle (X[p, q] / X[q, q]), False for the upper
    (X[q, p] / X[q, q]), from its divisions."""
    sides = set()
    for kind, st, subs in raw:
        if kind != "divide":
            continue
        (a, b), (d, _) = subs
        if a == b:
            raise Refused(f"line {st.node.line} divides a diagonal element", st.node.line)
        if d == b:
            sides.add(True)
        elif d == a:
            sides.add(False)
        else:
            raise Refused(f"line {st.node.line} divides by a diagonal element of neither the element's row nor its "
                          "column", st.node.line)
    if not sides:
        raise Refused("no statement divides by a diagonal element (a Cholesky factorisation does)", line)
    if not any(kind == "root" for kind, _, _ in raw):
        raise Refused("no statement takes the square root of a diagonal element (a Cholesky factorisation does)",
                      line)
    if len(sides) > 1:
        raise Refused("the divisions write both triangles", line)
    return sides.pop()


def _oriented(kind: str, st: affine.Statement, subs: list[list[Affine]], lower: bool, names: list[str]) -> Step:
    """The step at its logical coordinates (the lower triangle's: (p, q) with q <= p)."""
    pairs = [s if lower else [s[1], s[0]] for s in subs]
    if kind == "root":
        return Step(kind, st, (pairs[0][0],))
    p, q = pairs[0]
    if kind == "divide":
        return Step(kind, st, (p, q))
    for a, b in (pairs[1:], pairs[2:0:-1]):
        if a[0] == p and b[0] == q and a[1] == b[1]:
            return Step(kind, st, (p, q, a[1]))
    form = "X[i, k] * X[j, k]" if lower else "X[k, i] * X[k, j]"
    raise Refused(f"line {st.node.line}: the product subtracted is not {form} for the element X[i, j] it updates "
                  "(the update of a Cholesky factorisation)", st.node.line)


# ---------------------------------------------------------------- integer sets of steps

def _lin(terms: "list[tuple[int, Row]]", const: int = 0) -> Row:
    """sum(c * row) + const, as one row."""
    out: dict = {}
    for c, (coeffs, k) in terms:
        for key, v in coeffs.items():
            out[key] = out.get(key, 0) + c * v
        const += c * k
    return {k: v for k, v in out.items() if v}, const


def _negated(row: Row) -> Row:
    """`row >= 0` fails: `-row - 1 >= 0` (integers)."""
    coeffs, k = row
    return {x: -v for x, v in coeffs.items()}, -k - 1


def _target(kind: str, c: "list[Row]", n: Row) -> list[Row]:
    """The rows (each `>= 0`) of the set a step's coordinates must range over, n the matrix's order."""
    one = ({}, 1)
    if kind == "update":  # 0 <= r < q <= p < n
        p, q, r = c
        return [r, _lin([(1, q), (-1, r), (-1, one)]), _lin([(1, p), (-1, q)]), _lin([(1, n), (-1, p), (-1, one)])]
    if kind == "divide":  # 0 <= q < p < n
        p, q = c
        return [q, _lin([(1, p), (-1, q), (-1, one)]), _lin([(1, n), (-1, p), (-1, one)])]
    (p,) = c  # 0 <= p < n
    return [p, _lin([(1, n), (-1, p), (-1, one)])]


def _coords(s: Step, tag: int) -> list[Row]:
    return [affine._tagged(a, tag) for a in s.coords]


_WHAT = {"update": "subtracts a product from", "divide": "divides", "root": "takes the square root of"}


def _exactly_once(kind: str, steps: list[Step], n: Row, names: list[str]) -> None:
    """Every point of the kind's set is one instance of one of `steps`; raises Refused."""
    if not steps:
        raise Refused(f"no statement {_WHAT[kind]} the elements a Cholesky factorisation "
                      f"{'updates' if kind == 'update' else _WHAT[kind].split()[0] + 's'}")
    for s in steps:  # inside the set
        dom = affine._instance_rows(s.st, 1)
        for row in _target(kind, _coords(s, 1), n):
            if affine.feasible([], dom + [_negated(row)]):
                raise Refused(f"line {s.line} {_WHAT[kind]} elements outside the triangle of the factorisation "
                              "(a bound off by one?)", s.line)
    for i, a in enumerate(steps):  # no point twice
        for b in steps[i:]:
            base = affine._instance_rows(a.st, 1) + affine._instance_rows(b.st, 2)
            same = [_lin([(1, x), (-1, y)]) for x, y in zip(_coords(a, 1), _coords(b, 2))]
            options: list[list[Row]] = [[]] if a is not b else [
                [({("v", lp.slot, 1): s, ("v", lp.slot, 2): -s}, -1)] for lp in a.st.loops for s in (1, -1)]
            for extra in options:
                if affine.feasible(same, base + extra):
                    raise Refused(f"line {b.line} {_WHAT[kind]} an element more than once for the same step "
                                  "of the factorisation", b.line)
    inverses = [_inverse(s, names) for s in steps]
    points = [({("c", k): 1}, 0) for k in range(KINDS[kind])]

    def missed(k: int, rows: list[Row]) -> bool:  # is some point outside the images of steps[k:]?
        if not affine.feasible([], rows):
            return False
        if k == len(inverses):
            return True
        return any(missed(k + 1, rows + [d]) for d in inverses[k])

    if missed(0, _target(kind, points, n)):
        raise Refused(f"the statements do not cover every element a Cholesky factorisation "
                      f"{'updates' if kind == 'update' else _WHAT[kind].split()[0] + 's'} "
                      f"(line {steps[0].line})", steps[0].line)


def _inverse(s: Step, names: list[str]) -> list[Row]:
    """The ways a point ("c", k) can fall outside the image of step `s`: rows (each `>= 0`), one
    per violated condition, from the instance the point determines (each loop variable is one
    coordinate, up to sign and an offset)."""
    subst: dict = {}
    used: set[int] = set()
    for lp in s.st.loops:
        key = ("v", lp.slot)
        k = next((k for k, a in enumerate(s.coords) if k not in used and a.loop_vars() == {lp.slot}
                  and a.coeff(key) in (1, -1)), None)
        if k is None:
            raise Refused(f"line {s.line}: the loop over `{names[lp.slot]}` does not run along a coordinate of the "
                          "element it updates", s.line)
        used.add(k)
        c = s.coords[k].coeff(key)
        rest = affine._tagged(s.coords[k] - Affine.of({key: c}), 1)
        # v = c * (coordinate - rest)
        subst[("v", lp.slot, 1)] = _lin([(c, ({("c", k): 1}, 0)), (-c, rest)])

    def put(row: Row) -> Row:
        coeffs, k = row
        terms = [(v, subst[key]) if key in subst else (v, ({key: 1}, 0)) for key, v in coeffs.items()]
        return _lin(terms, k)

    out = [_negated(put(r)) for r in affine._instance_rows(s.st, 1)]
    for k, a in enumerate(s.coords):
        if k not in used:  # a coordinate the others determine: it must equal theirs
            diff = _lin([(1, ({("c", k): 1}, 0)), (-1, put(affine._tagged(a, 1)))])
            out += [_negated(diff), _negated(_lin([(-1, diff)]))]
    return out


# ---------------------------------------------------------------- the order of the steps

def _before(a: affine.Statement, ta: int, b: affine.Statement, tb: int) -> "list[tuple[list[Row], list[Row]]]":
    """The ways instance `ta` of `a` runs before instance `tb` of `b` (a is not b): (equalities,
    inequalities) for each — a later iteration of a common loop, all the outer ones the same, or
    the same iterations of every common loop and `a` written first."""
    common = affine._common(a, b)
    out = []
    eqs: list[Row] = []
    for lp in common:
        va, vb = ("v", lp.slot, ta), ("v", lp.slot, tb)
        out.append((list(eqs), [({vb: 1, va: -1}, -1)]))
        eqs.append(({va: 1, vb: -1}, 0))
    if a.order[len(common) - 1] < b.order[len(common) - 1]:
        out.append((eqs, []))
    return out


def _ordered(by_kind: dict[str, list[Step]], names: list[str]) -> None:
    """Every step reads final values; raises Refused naming the first pair out of order."""
    def must_precede(first: Step, then: Step, link: "list[tuple[int, int]]", why: str) -> None:
        """Each instance of `first` at coordinates linked to `then`'s (first's k == then's m) runs
        before it."""
        base = affine._instance_rows(first.st, 1) + affine._instance_rows(then.st, 2)
        a, b = _coords(first, 1), _coords(then, 2)
        eqs = [_lin([(1, a[k]), (-1, b[m])]) for k, m in link]
        for more_eqs, rows in _before(then.st, 2, first.st, 1):
            if affine.feasible(eqs + more_eqs, base + rows):
                raise Refused(f"line {then.line} can run before line {first.line} {why}", then.line)

    for u in by_kind["update"]:
        for d in by_kind["divide"]:
            must_precede(d, u, [(0, 0), (1, 2)], "has finished the element it reads (X[i, k])")
            must_precede(d, u, [(0, 1), (1, 2)], "has finished the element it reads (X[j, k])")
            must_precede(u, d, [(0, 0), (1, 1)], "has subtracted every product from the element")
        for r in by_kind["root"]:
            must_precede(u, r, [(0, 0), (1, 0)], "has subtracted every product from the diagonal element")
    for d in by_kind["divide"]:
        for r in by_kind["root"]:
            must_precede(r, d, [(0, 1)], "has taken the square root of the diagonal element it divides by")


# ---------------------------------------------------------------- the dispatch

def _dispatch(f: ir.Function, root: ir.ForRange, x: int, lower: bool) -> ir.If:
    from noodle.ir.intents.contraction import dimension
    from noodle.ir.nest import all_of

    pos = {"line": root.line, "col": root.col}
    names = f.local_names
    n = root.stop

    def local() -> ir.LocalGet:
        return ir.LocalGet(slot=x, ty=f.local_types[x], **pos)

    conds: list[ir.Expr] = [ir.CallBuiltin(name="blas.fits", args=[ir.Const(value=1, ty=INT, **pos), local()],
                                           ty=BOOL, **pos)]
    for d in (0, 1):
        conds.append(ir.Binary(op="cmp.le", a=copy.deepcopy(n), b=dimension(local(), d, pos), ty=BOOL, **pos))
    conds.append(ir.CallBuiltin(name="lapack.potrf", args=[ir.Const(value="L" if lower else "U", ty=STR, **pos),
                                                           copy.deepcopy(n), local()], ty=BOOL, **pos))
    a = names[x]
    form = f"{a} = L * Lᵀ, L its lower triangle" if lower else f"{a} = Uᵀ * U, U its upper triangle"
    root.note = (f"dpotrf: the Cholesky factorisation of `{a}` in place ({form}; the other triangle untouched)")
    return ir.If(cond=all_of(conds, pos), then=[], otherwise=[root], intent="factorisation", **pos)
