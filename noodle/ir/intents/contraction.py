"""Tensor contractions: a loop nest whose statement is

    X[..] = beta * X[..] + alpha * (sum over the loops X is not indexed by of products of arrays
                                    indexed by the loop variables)

whatever the loop order, the names, the scalars and the transposes, accumulated in place
(`c[i, j] += a[i, k] * b[k, j]`) or through a scalar (`var s = 0.0; for k { s += ... }; c[i, j] = s`),
becomes one call of the BLAS routine that computes it in place:

    gemm   X[i, j] (+)= alpha * A[i|k, k|i] * B[k|j, j|k]              (transposes from the subscripts)
    gemv   y[i] (+)= alpha * A[i|j, j|i] * x[j]
    ger    A[i, j] += alpha * x[i] * y[j]
    syrk   C[i, j] (+)= alpha * A[i, k] * A[j, k], over one triangle of C (j <= i or j >= i)
    syr2k  C[i, j] (+)= alpha * (A[i, k] * B[j, k] + B[i, k] * A[j, k]), over one triangle
    trmm   B[i, j] += A[k, i] * B[k, j] for k past i (or before it): B = op(unit triangle of A) * B, in
           place, when the dependence analysis shows every read of B sees a value the nest has not
           written yet

A nest that does several things is first split by loop distribution (noodle.ir.affine): PolyBench's
gemm — `C[i, j] *= beta`, then `C[i, j] += alpha * A[i, k] * B[k, j]` in i-k-j order — is a scale
and a product, and a scale (or a zero fill) of the same elements right before a product is its
`beta`; one right after is a factor of its alpha and beta (trmm's `B[i, j] = alpha * B[i, j]`).
Every piece must be recognised for the nest to be replaced:

    if <guard> { blas.gemm(...); ... } else { <the nest, unchanged> }     // If.intent = "contraction"

The guard holds when every loop bound fits the arrays it indexes, the arrays are float64 in a
layout BLAS takes, the arrays written share no memory with the others (the dependence analysis
assumed distinct names are distinct memory), and a runtime alpha (or a beta the loops multiply
the old values by) is not zero — BLAS skips what a zero multiplies, the loops would turn an
infinity there into a NaN.  Otherwise the loops run as written.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from contextlib import contextmanager
from typing import Iterator, Union

from noodle.ir import affine
from noodle.ir import nodes as ir
from noodle.ir.affine import Affine, Refused
from noodle.ir.types import BOOL, FLOAT, INT, NONE, STR, ArrayT, ListT, prune
from noodle.ir.walk import walk

#: the BLAS routines a contraction is dispatched to (the natives that run them)
ROUTINES = ("blas.gemm", "blas.gemv", "blas.ger", "blas.syrk", "blas.syr2k", "blas.trmm")

#: what `recognise` gives: the dispatch replacing the nest, why a nest that looks like a
#: contraction was left alone, or None for a nest nothing like one
Found = Union[ir.If, str, None]


# ---------------------------------------------------------------- scalars

@dataclass
class Scalar:
    """A constant times loop-invariant float expressions, divided by others (read twice: guard and call)."""

    const: float = 1.0
    exprs: list[ir.Expr] = field(default_factory=list)
    divisors: list[ir.Expr] = field(default_factory=list)  # the guard checks each is not zero

    def __mul__(self, other: "Scalar") -> "Scalar":
        if self.const * other.const == 0.0:
            return Scalar(0.0)
        return Scalar(self.const * other.const, self.exprs + other.exprs, self.divisors + other.divisors)

    def divide(self, d: ir.Expr) -> "Scalar":
        return Scalar(self.const, list(self.exprs), self.divisors + [d])

    def _key(self) -> tuple[list[str], list[str]]:
        from noodle.ir.printer import expr_text

        return sorted(map(expr_text, self.exprs)), sorted(map(expr_text, self.divisors))

    def __add__(self, other: "Scalar") -> "Scalar | None":
        """The sum, when the two share their expressions (`beta * x + beta * x`), else None."""
        if self.const == 0.0:
            return other
        if other.const == 0.0:
            return self
        if self._key() == other._key():
            return Scalar(self.const + other.const, self.exprs, self.divisors)
        return None

    def same(self, other: "Scalar") -> bool:
        total = self + other.scale(-1.0)
        return total is not None and total.const == 0.0

    def scale(self, k: float) -> "Scalar":
        return Scalar(self.const * k, list(self.exprs), list(self.divisors))

    @property
    def constant(self) -> "float | None":
        if self.const == 0.0:
            return 0.0
        return None if self.exprs or self.divisors else self.const

    def build(self, pos: dict[str, int]) -> ir.Expr:
        out: "ir.Expr | None" = None
        for e in self.exprs:
            e = copy.deepcopy(e)
            out = e if out is None else ir.Binary(op="float.mul", a=out, b=e, ty=FLOAT, **pos)
        if out is None or self.const != 1.0:
            c = ir.Const(value=float(self.const), ty=FLOAT, **pos)
            out = c if out is None else ir.Binary(op="float.mul", a=c, b=out, ty=FLOAT, **pos)
        for d in self.divisors:  # the guard has checked each divisor is not zero
            out = ir.Binary(op="float.div", a=out, b=copy.deepcopy(d), ty=FLOAT, **pos)
        return out

    def text(self, names: list[str]) -> str:
        from noodle.ir.printer import expr_text

        parts = [_short(e, names) or expr_text(e) for e in self.exprs]
        if self.const != 1.0 or not parts:
            parts.insert(0, f"{self.const:g}")
        return "*".join(parts) + "".join(f" / {_short(d, names) or expr_text(d)}" for d in self.divisors)


def _times(s: Scalar, names: list[str]) -> str:
    """`alpha * ` for a factor in front of a product, nothing for 1."""
    return "" if s.constant == 1.0 else f"{s.text(names)} * "


def _plus(beta: Scalar, out: str, names: list[str]) -> str:
    """What the old value adds: nothing for beta 0, ` + out` for 1, ` + beta * out` else."""
    if beta.constant == 0.0:
        return ""
    return f" + {out}" if beta.constant == 1.0 else f" + {beta.text(names)} * {out}"


def _short(e: ir.Expr, names: list[str]) -> str:
    """A scalar as the source would write it (names, not slots), or "" to print the IR."""
    ops = {"float.add": "+", "float.sub": "-", "float.mul": "*", "float.div": "/"}
    if isinstance(e, ir.Const) and isinstance(e.value, (int, float)):
        return repr(e.value)
    if isinstance(e, ir.Binary) and e.op in ops:
        a, b = _short(e.a, names), _short(e.b, names)
        return f"({a} {ops[e.op]} {b})" if a and b else ""
    if isinstance(e, ir.LocalGet):
        return names[e.slot]
    if isinstance(e, ir.Unary) and e.op == "int.to_float" and isinstance(e.x, ir.LocalGet):
        return f"float({names[e.x.slot]})"
    return ""


# ---------------------------------------------------------------- terms of a statement

@dataclass
class Operand:
    """An array read (or the array written) with the loop variable of each subscript."""

    slot: int
    local: ir.LocalGet
    vars: tuple[int, ...]
    access: ir.CallBuiltin


@dataclass
class Term:
    coef: Scalar
    operands: list[Operand]


@dataclass
class Product:
    """A recognised contraction: out = beta * out + sum of terms, over `loops`."""

    out: Operand
    terms: list[Term]
    beta: Scalar
    reads_out: bool  # the loops multiply the old values by beta (then beta must not be zero)
    loops: list[affine.Loop]
    line: int
    # trmm: the subscript of `out` that the sum variable replaces in the in-place operand
    inplace: "Operand | None" = None


@dataclass
class Scale:
    """`X[..] = factor * X[..]` (reads) or `X[..] = 0.0` over a whole domain."""

    out: Operand
    factor: Scalar
    reads: bool
    loops: list[affine.Loop]
    line: int


@dataclass
class Loops:
    """A piece that is no contraction but safe to run as written between BLAS calls: one store, every
    subscript a loop variable running from 0 to a value the nest does not change, nothing that can
    fail.  The guard proves its indices in bounds, so the distributed nest fails nowhere."""

    root: ir.ForRange
    out: Operand
    reads: list[Operand]
    loops: list[affine.Loop]
    line: int
    divisors: list[ir.Expr] = field(default_factory=list)  # values it divides by: the guard checks them
    swap: bool = False  # run with its two loops interchanged (noodle.ir.intents.interchange)


class _NotLinear(Exception):
    pass


def _invariant(e: ir.Expr, assigned: set[int]) -> bool:
    """A float the nest does not change, safe to compute twice."""
    for n in walk(e):
        if isinstance(n, ir.LocalGet):
            if n.slot in assigned:
                return False
        elif isinstance(n, ir.Unary):
            if n.op not in ("int.to_float", "float.neg"):
                return False
        elif isinstance(n, ir.Binary):
            if n.op not in ("float.mul", "float.add", "float.sub"):
                return False
        elif not isinstance(n, ir.Const):
            return False
    return prune(e.ty) == FLOAT


def _terms(e: ir.Expr, assigned: set[int], acc: "int | None" = None) -> list[tuple[Scalar, list[ir.Expr]]]:
    """`e` as a sum of signed products: [(scalar factor, [array reads and the accumulator])]."""
    if isinstance(e, ir.Binary) and e.op in ("float.add", "float.sub"):
        b = _terms(e.b, assigned, acc)
        if e.op == "float.sub":
            b = [(c.scale(-1.0), fs) for c, fs in b]
        return _terms(e.a, assigned, acc) + b
    if isinstance(e, ir.Unary) and e.op == "float.neg":
        return [(c.scale(-1.0), fs) for c, fs in _terms(e.x, assigned, acc)]
    if isinstance(e, ir.Binary) and e.op == "float.div" and _invariant(e.b, assigned):
        return [(c.divide(e.b), fs) for c, fs in _terms(e.a, assigned, acc)]
    if isinstance(e, ir.Binary) and e.op == "float.mul":
        left, right = _terms(e.a, assigned, acc), _terms(e.b, assigned, acc)
        if len(left) * len(right) > 8:
            raise _NotLinear("too many products")
        return [(c1 * c2, f1 + f2) for c1, f1 in left for c2, f2 in right]
    if isinstance(e, ir.Const) and isinstance(e.value, float):
        return [(Scalar(e.value), [])]
    if isinstance(e, ir.CallBuiltin) and e.name == "array.get":
        return [(Scalar(), [e])]
    if isinstance(e, ir.LocalGet) and e.slot == acc:
        return [(Scalar(), [e])]
    if _invariant(e, assigned):
        return [(Scalar(1.0, [e]), [])]
    raise _NotLinear(f"`{type(e).__name__}` is neither an array element nor a value the nest does not change")


def _operand(e: ir.CallBuiltin, loop_slots: set[int]) -> "Operand | None":
    arr = e.args[0]
    idx = e.args[1:] if e.name == "array.get" else e.args[1:-1]
    if not isinstance(arr, ir.LocalGet):
        return None
    slots = []
    for x in idx:
        if not (isinstance(x, ir.LocalGet) and x.slot in loop_slots):
            return None
        slots.append(x.slot)
    return Operand(arr.slot, arr, tuple(slots), e)


def _float_array(local: ir.LocalGet) -> bool:
    t = prune(local.ty)
    return isinstance(t, ArrayT) and t.elem == FLOAT and t.ndim in (1, 2)


# ---------------------------------------------------------------- recognising one piece

def _piece(f: ir.Function, root: ir.ForRange, names: list[str], nest: "affine.Nest | None" = None
           ) -> "Product | Scale":
    """A perfect nest with one store, as a product or a scale; raises Refused."""
    loops_ir = affine.perfect_loops(root)
    inner = loops_ir[-1]
    nest = nest or affine.model(f, root)
    if len(inner.body) != 1 or len(nest.statements) != 1:
        raise Refused("the nest does more than one thing its dependences let it split", root.line)
    st = nest.statements[0]
    s = st.node
    if not (isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.CallBuiltin) and s.expr.name == "array.set"):
        raise Refused("the nest's statement does not store into an array", s.line)
    return _statement(f, nest, st, s.expr, names)


def _statement(f: ir.Function, nest: affine.Nest, st: affine.Statement, store: ir.CallBuiltin,
               names: list[str], acc: "tuple[int, list[tuple[Scalar, list[ir.Expr]]]] | None" = None
               ) -> "Product | Scale":
    """The store `store` of statement `st` as a product or a scale (with `acc`, the scalar the
    nest sums into and what it sums: the loops of the whole nest are the product's)."""
    loops = list(nest.loops) if acc is not None else list(st.loops)
    loop_slots = {lp.slot for lp in loops}
    assigned = nest.symbols.assigned
    line = store.line
    out = _operand(store, loop_slots)
    if out is None or len(set(out.vars)) != len(out.vars):
        raise Refused(f"`{names[store.args[0].slot]}` is not stored at distinct loop variables", line)  # type: ignore[union-attr]
    if not _float_array(out.local):
        raise Refused(f"`{names[out.slot]}` is not a float array of 1 or 2 dimensions", line)
    try:
        terms = _terms(store.args[-1], assigned, acc[0] if acc else None)
    except _NotLinear as e:
        raise Refused(f"the stored value is not a sum of products ({e})", line) from None
    if acc is not None:  # `X[..] = post(s)` with s the sum: expand s
        expanded = []
        for c, fs in terms:
            hits = [x for x in fs if isinstance(x, ir.LocalGet)]
            if len(hits) > 1:
                raise Refused("the sum is used more than once in what is stored", line)
            if hits:
                rest = [x for x in fs if x is not hits[0]]
                expanded += [(c * c2, rest + f2) for c2, f2 in acc[1]]
            else:
                expanded.append((c, fs))
        terms = expanded
    beta: "Scalar | None" = None
    reads_out = False
    products: list[Term] = []
    inplace: "list[Operand]" = []
    for c, fs in terms:
        ops = []
        for x in fs:
            op = _operand(x, loop_slots)  # type: ignore[arg-type]
            if op is None:
                raise Refused(f"line {x.line}: a subscript is not a loop variable (a permutation of the loop "
                              "variables is needed)", line)
            if not _float_array(op.local):
                raise Refused(f"`{names[op.slot]}` is not a float array of 1 or 2 dimensions", line)
            ops.append(op)
        if len(ops) == 1 and ops[0].slot == out.slot and ops[0].vars == out.vars:
            beta = c if beta is None else (beta + c)
            if beta is None:
                raise Refused("the old value is scaled by two different factors", line)
            reads_out = True
            continue
        if not ops:
            if c.constant == 0.0:
                continue
            raise Refused("a term of the stored value has no array in it", line)
        if any(o.slot == out.slot for o in ops):
            inplace += [o for o in ops if o.slot == out.slot]
        products.append(Term(c, ops))
    if acc is not None and beta is None:
        beta = Scalar(0.0)
    if not products:
        if beta is None:
            beta = Scalar(0.0)
        if not reads_out and beta.constant != 0.0:
            raise Refused("the nest fills the array with a value (not a product)", line)
        return Scale(out, beta, reads_out, loops, line)
    if beta is None:
        beta = Scalar(0.0)
    out_vars = set(out.vars)
    sums = loop_slots - out_vars
    if sums and not (reads_out and beta.constant == 1.0) and acc is None:
        raise Refused(f"line {line} does not add to the element it stores (it overwrites or scales it in every "
                      "iteration of the loops it is not indexed by)", line)
    for t in products:
        used = {v for o in t.operands for v in o.vars}
        if used != loop_slots:
            raise Refused("a term does not use every loop variable (it would be added once per iteration of "
                          "the loops it skips)", line)
        for o in t.operands:
            if len(set(o.vars)) != len(o.vars):
                raise Refused(f"`{names[o.slot]}` is read on a diagonal (one loop variable twice)", line)
    if len(inplace) > 0:
        if len(products) != 1 or len(inplace) != 1 or acc is not None:
            raise Refused(f"`{names[out.slot]}` is both read and written in a way no in-place routine computes",
                          line)
        write = next(a for a in st.accesses if a.write)
        keep = next((a for a in st.accesses if not a.write and a.target == write.target
                     and a.subscripts == write.subscripts), None)
        why = affine.reads_see_only_old_values(nest, ("a", out.slot), keep)
        if why is not None:
            raise Refused(why + f" (`{names[out.slot]}` is updated in place)", line)
        return Product(out, products, beta, reads_out, loops, line, inplace[0])
    return Product(out, products, beta, reads_out, loops, line)


def _accumulator_form(f: ir.Function, root: ir.ForRange, names: list[str],
                      home: "ir.ForRange | None" = None) -> "Product | None":
    """`for .. { s = init; for .. { s += terms }; X[..] = post(s) }`: the product, None when the
    nest is not of that form; raises Refused when it is but is not a contraction.  (`home`: the nest
    of the function that `root` is a rewritten copy of.)"""
    outer = affine.perfect_loops(root)
    body = outer[-1].body
    if len(body) != 3 or not isinstance(body[0], ir.LocalSet) or not isinstance(body[1], ir.ForRange):
        return None
    init, sums, store = body
    s = init.slot
    if not (isinstance(store, ir.ExprStmt) and isinstance(store.expr, ir.CallBuiltin)
            and store.expr.name == "array.set"):
        return None
    inner_loops = affine.perfect_loops(sums)
    update = inner_loops[-1].body
    if len(update) != 1 or not (isinstance(update[0], ir.LocalSet) and update[0].slot == s):
        return None
    if prune(f.local_types[s]) != FLOAT:
        return None
    if any(isinstance(n, ir.LocalGet) and n.slot == s for st in f.body for n in walk(st)
           if not _inside(n, _home(home or root))):
        raise Refused(f"`{names[s]}` is read after the nest", root.line)
    nest = affine.model(f, root)
    assigned = nest.symbols.assigned
    try:
        acc_terms = _terms(update[0].value, assigned, s)
        init_terms = _terms(init.value, assigned, None)
    except _NotLinear as e:
        raise Refused(f"line {update[0].line}: what is added is not a sum of products ({e})", update[0].line) from None
    own = [t for t in acc_terms if any(isinstance(x, ir.LocalGet) and x.slot == s for x in t[1])]
    if len(own) != 1 or own[0][0].constant != 1.0 or len(own[0][1]) != 1:
        raise Refused(f"line {update[0].line} does not only add to `{names[s]}`", update[0].line)
    added = [t for t in acc_terms if t is not own[0]]
    st = next(x for x in nest.statements if x.node is store)
    # s = init + sum(added): what `init` reads joins the sum, so an initial value other than 0.0
    # must be the stored element (a beta), which `_statement` checks like any other term
    product = _statement(f, nest, st, store.expr, names, (s, init_terms + added))
    if not isinstance(product, Product):
        raise Refused("the sum is not stored", store.line)
    return product


def _inside(n: ir.Node, root: ir.Stmt) -> bool:
    return any(x is n for x in walk(root))


#: (copy, original) for each rewritten copy of a nest being recognised (loops reordered, reads
#: moved): what is outside the copy is what is outside the original in the function
_copies: "list[tuple[ir.Stmt, ir.Stmt]]" = []


@contextmanager
def standing_in(copy_of: ir.Stmt, original: ir.Stmt) -> Iterator[None]:
    """While recognising `copy_of`, a rewritten copy of the function's nest `original`."""
    _copies.append((copy_of, original))
    try:
        yield
    finally:
        _copies.pop()


def _home(root: ir.Stmt) -> ir.Stmt:
    """The nest of the function that `root` is (or is inside a copy of)."""
    for cp, original in reversed(_copies):
        if _inside(root, cp):
            return original
    return root


# ---------------------------------------------------------------- domains

@dataclass(frozen=True)
class Domain:
    """The elements of `out` a piece touches: per dimension its (lower, upper) bound, in the
    dimensions' own names (("d", k)) so that two pieces over the same elements compare equal."""

    bounds: tuple[tuple[Affine, Affine], ...]


def _rename(a: Affine, dims: dict[int, int]) -> "Affine | None":
    out: dict = {}
    for k, c in a.coeffs:
        if k[0] == "v":
            if k[1] not in dims:
                return None
            out[("d", dims[k[1]])] = c
        else:
            out[k] = c
    return Affine.of(out, a.const)


def _domain(out: Operand, loops: list[affine.Loop]) -> "Domain | None":
    dims = {v: k for k, v in enumerate(out.vars)}
    by_slot = {lp.slot: lp for lp in loops}
    bounds = []
    for v in out.vars:
        lp = by_slot[v]
        lo, hi = _rename(lp.lower, dims), _rename(lp.upper, dims)
        if lo is None or hi is None:
            return None
        bounds.append((lo, hi))
    return Domain(tuple(bounds))


# ---------------------------------------------------------------- the whole nest

def looks_like_one(root: ir.ForRange) -> bool:
    """Does the nest hold a product of array elements (what a contraction is made of)?"""
    for n in walk(root):
        if isinstance(n, ir.Binary) and n.op in ("float.mul", "int.mul"):
            reads = [x for x in (n.a, n.b) if any(isinstance(y, ir.CallBuiltin) and y.name == "array.get"
                                                 for y in walk(x))]
            if len(reads) == 2:
                return True
    return False


def recognise(f: ir.Function, root: ir.ForRange) -> Found:
    """The dispatch replacing the nest at `root`, why a nest holding a product was left alone, or None."""
    if not looks_like_one(root):
        return None
    names = f.local_names
    try:
        pieces = _pieces(f, root, names)
        calls = _fold(pieces, names)
        return _dispatch(f, root, calls, names)
    except Refused as e:
        return str(e)


def _pieces(f: ir.Function, root: ir.ForRange, names: list[str],
            home: "ir.ForRange | None" = None) -> "list[Product | Scale | Loops]":
    acc = _accumulator_form(f, root, names, home)
    if acc is not None:
        return [acc]
    nest = affine.model(f, root)
    parts = affine.distribute(f, root, nest)
    out: "list[Product | Scale | Loops]" = []
    for p in parts:
        part = nest if p is root else affine.model(f, p)
        if len(part.statements) != 1:
            raise Refused(f"the statements on lines {', '.join(str(x.node.line) for x in part.statements)} depend "
                          "on each other in both directions: the nest cannot be split into contractions", p.line)
        try:
            piece = _piece(f, p, names, part)
            if isinstance(piece, Product) and len(parts) > 1:  # no routine computes it: maybe loops
                _routines(Call(piece, Scalar(), piece.beta, piece.reads_out), names, {"line": p.line, "col": 0})
            out.append(piece)
        except Refused as why:
            loops = _loop_piece(f, p) if len(parts) > 1 else None
            if loops is None:
                raise why from None
            out.append(loops)
    if not any(isinstance(x, Product) for x in out):
        raise Refused("no piece of the nest is a contraction", root.line)
    return out


def _loop_piece(f: ir.Function, root: ir.ForRange) -> "Loops | None":
    """The piece as a `Loops`, when it is safe to run between BLAS calls (see `Loops`)."""
    chain = affine.perfect_loops(root)
    body = chain[-1].body
    if len(body) != 1 or not (isinstance(body[0], ir.ExprStmt) and isinstance(body[0].expr, ir.CallBuiltin)
                              and body[0].expr.name == "array.set"):
        return None
    store = body[0].expr
    nest = affine.model(f, root)
    slots = {lp.slot for lp in nest.loops}
    if not all(_hull(nest.loops, lp.slot) is not None for lp in nest.loops):
        return None
    divisors = _divisors(store.args[-1], nest.symbols.assigned)
    if divisors is None:
        return None
    out = _operand(store, slots)
    reads = [_operand(n, slots) for n in walk(store.args[-1]) if isinstance(n, ir.CallBuiltin) and n.name == "array.get"]
    if out is None or any(r is None for r in reads) or not all(_float_array(x.local) for x in [out] + reads):  # type: ignore[union-attr]
        return None
    if any(isinstance(n, ir.LocalGet) and n.slot in nest.symbols.assigned and n.slot not in slots
           for n in walk(store)):
        return None
    return Loops(root, out, reads, list(nest.loops), store.line, divisors)  # type: ignore[arg-type]


def _divisors(e: ir.Expr, assigned: set[int]) -> "list[ir.Expr] | None":
    """The values `e` divides by, when nothing else in it can fail (float + - *, array elements:
    the guard proves their indices in bounds) and each is a float the nest does not change (the
    guard checks it is not zero); else None."""
    out: list[ir.Expr] = []

    def safe(x: ir.Expr) -> bool:
        if isinstance(x, ir.Binary):
            if x.op == "float.div":
                out.append(x.b)
                return _invariant(x.b, assigned) and safe(x.a)
            ok = x.op in ("float.add", "float.sub", "float.mul") or (x.op in ("int.add", "int.sub") and x.skip == 3)
            return ok and safe(x.a) and safe(x.b)
        if isinstance(x, ir.Unary):
            return x.op == "float.neg" and safe(x.x)
        if isinstance(x, ir.CallBuiltin):
            return x.name in ("array.get", "array.set") and all(safe(y) for y in x.args)
        return isinstance(x, (ir.Const, ir.LocalGet))

    return out if safe(e) else None


@dataclass
class Call:
    """One BLAS call: a product with its beta and alpha folded in."""

    product: Product
    alpha: Scalar  # a factor on every term
    beta: Scalar
    beta_reads: bool


def _fold(pieces: "list[Product | Scale | Loops]", names: list[str]) -> "list[Call | Loops]":
    """Scales (and zero fills) folded into the product of the same elements next to them: a scale
    before a product is its beta, one after it a factor of its alpha and beta.  A scale may wait
    past pieces that do not touch its array (no dependence orders them)."""
    steps: "list[Call | Loops]" = []
    pending: "dict[int, Scale]" = {}

    def touches(step: "Call | Loops | Product", slot: int) -> bool:
        if isinstance(step, Loops):
            return slot in [step.out.slot] + [x.slot for x in step.reads]
        product = step.product if isinstance(step, Call) else step
        return slot == product.out.slot or any(o.slot == slot for t in product.terms for o in t.operands)

    def same(a: "Scale | Product", b: "Scale | Product") -> bool:
        return a.out.slot == b.out.slot and _domain(a.out, a.loops) == _domain(b.out, b.loops)

    for p in pieces:
        if isinstance(p, Scale):
            if p.out.slot in pending:
                q = pending[p.out.slot]
                if not same(q, p):
                    raise Refused(_alone(q, names), q.line)
                pending[p.out.slot] = Scale(p.out, q.factor * p.factor, q.reads or p.reads, p.loops, p.line)
                continue
            last = next((k for k in range(len(steps) - 1, -1, -1) if touches(steps[k], p.out.slot)), None)
            target = steps[last] if last is not None else None
            if isinstance(target, Call) and same(target.product, p):
                target.alpha = target.alpha * p.factor  # a scale after the product: a factor of both parts
                target.beta = target.beta * p.factor
                continue
            pending[p.out.slot] = p
            continue
        for slot, q in pending.items():
            if touches(p, slot) and not (isinstance(p, Product) and slot == p.out.slot):
                raise Refused(f"line {p.line} reads what line {q.line} scales (its loops would have to run between "
                              "the two)", p.line)
        if isinstance(p, Loops):
            steps.append(p)
            continue
        beta, reads = p.beta, p.reads_out
        q = pending.pop(p.out.slot, None)
        if q is not None:
            if not same(q, p):
                raise Refused(_alone(q, names), q.line)
            if not (p.reads_out and p.beta.constant == 1.0):
                raise Refused(f"line {p.line} overwrites what line {q.line} scaled", p.line)
            beta, reads = q.factor, q.reads
        steps.append(Call(p, Scalar(), beta, reads))
    if pending:
        q = next(iter(pending.values()))
        raise Refused(_alone(q, names), q.line)
    return steps


def _alone(s: Scale, names: list[str]) -> str:
    return (f"the nest also scales or fills `{names[s.out.slot]}` over elements no product next to it updates "
            "(only the loops can do that part)")


# ---------------------------------------------------------------- choosing the routine

@dataclass
class Routine:
    """A BLAS call as IR, with what its guard needs: (array, dimension, extent) that must fit."""

    name: str
    flags: str
    sizes: list[ir.Expr]
    alpha: ir.Expr
    arrays: list[ir.Expr]
    beta: "ir.Expr | None"
    fits: list[tuple[int, int, ir.Expr]]
    text: str


def _extent(loops: list[affine.Loop], v: int, names: list[str], line: int) -> ir.Expr:
    """The size of the range of loop variable `v`: its upper bound, when it runs from 0 to a value
    the nest does not change (read twice: by the guard and by the call)."""
    lp = next(x for x in loops if x.slot == v)
    if lp.lower != Affine(0) or not lp.upper.symbolic():
        raise Refused(f"the loop over `{names[v]}` (line {lp.node.line}) does not run from 0 to a value the nest "
                      "does not change", line)
    if not _pure(lp.node.stop):
        raise Refused(f"the bound of the loop over `{names[v]}` (line {lp.node.line}) is computed with an overflow "
                      "check (the guard would compute it again: a constant, a variable, len(x) or x.shape[k] "
                      "can be read twice)", line)
    return lp.node.stop


def _pure(e: ir.Expr, first: bool = False) -> bool:
    """Safe to compute twice and cannot fail: locals, constants, lengths, shapes, unchecked + and -.
    With `first` (the bound of the nest's outermost loop, the first thing the nest computes), a
    checked + - * too: the guard computing it first fails where the loops would have failed."""
    for n in walk(e):
        if isinstance(n, ir.Binary):
            if not (n.op in ("int.add", "int.sub") and n.skip == 3) \
                    and not (first and n.op in ("int.add", "int.sub", "int.mul")):
                return False
        elif isinstance(n, ir.Index):
            if not (isinstance(n.obj, ir.CallBuiltin) and n.obj.name == "array.shape"):
                return False
        elif isinstance(n, ir.CallBuiltin):
            if n.name not in ("array.len", "array.shape", "len"):
                return False
        elif not isinstance(n, (ir.Const, ir.LocalGet, ir.Index)):
            return False
    return True


@dataclass
class Triangle:
    """The triangle of an n x n result the loops over (row, column) cover: `lower` (column <= row) or
    upper, `strict` without the diagonal, and n (a loop bound the nest does not change)."""

    kind: str
    strict: bool
    size: ir.Expr

    @property
    def text(self) -> str:
        return f"{'strictly ' if self.strict else ''}{self.kind} triangle"


def _triangle(loops: list[affine.Loop], r: int, c: int) -> "Triangle | None":
    """The triangle the loops over r and c cover — one of them running over 0..n, the other from 0
    to it (plus one) or from it (plus one) to n — or None when neither (a rectangle, or something
    else).  A strict triangle's outer loop may stop one short (`for i in 0..n - 1 { for j in i + 1..n`)
    or start one late (`for i in 1..n { for j in 0..i`): the row it leaves out is empty."""
    by = {lp.slot: lp for lp in loops}
    for x, y in ((r, c), (c, r)):  # x: the loop with bounds the nest does not change
        lx, ly = by[x], by[y]
        if not (lx.lower.symbolic() and lx.upper.symbolic()):
            continue
        vx = Affine.of({("v", x): 1})
        one = Affine(1)
        below: "bool | None" = None  # y below x (True) or above it, and strictly or not
        if ly.lower == Affine(0) and ly.upper == vx + one and lx.lower == Affine(0):
            below, strict, n = True, False, lx
        elif ly.lower == Affine(0) and ly.upper == vx and lx.lower in (Affine(0), one):
            below, strict, n = True, True, lx
        elif ly.lower == vx and ly.upper == lx.upper and lx.lower == Affine(0):
            below, strict, n = False, False, ly
        elif ly.lower == vx + one and ly.upper in (lx.upper, lx.upper + one) and lx.lower == Affine(0):
            below, strict, n = False, True, ly
        if below is None or not _pure(n.node.stop, n.depth == 0):
            continue
        # y below x: column below row (lower) when y is the column
        lower = below if y == c else not below
        return Triangle("lower" if lower else "upper", strict, n.node.stop)
    return None


def _routine(call: Call, names: list[str], pos: dict[str, int]) -> Routine:
    p = call.product
    out = p.out
    line = p.line
    loops = p.loops
    alpha = call.alpha
    n = names

    def dims(op: Operand) -> str:
        return f"{n[op.slot]}[{', '.join(n[v] for v in op.vars)}]"

    def ext(v: int) -> ir.Expr:
        return _extent(loops, v, n, line)

    if p.inplace is not None:
        return _trmm(call, names, pos)
    terms = p.terms
    coefs = [t.coef for t in terms]
    if len(out.vars) == 2:
        i, j = out.vars
        sums = [lp.slot for lp in loops if lp.slot not in out.vars]
        tri = _triangle(loops, i, j)
        if len(sums) == 1 and all(len(t.operands) == 2 and all(len(o.vars) == 2 for o in t.operands) for t in terms):
            k = sums[0]
            pairs = []
            for t in terms:
                a = next((o for o in t.operands if i in o.vars and k in o.vars), None)
                b = next((o for o in t.operands if o is not a and j in o.vars and k in o.vars), None)
                if a is None or b is None:
                    raise Refused(f"the product is not a matrix product "
                                  f"({' * '.join(dims(o) for o in t.operands)} into {dims(out)})", line)
                pairs.append((a, b, "N" if a.vars == (i, k) else "T", "N" if b.vars == (k, j) else "T"))
            if tri is None:
                _rectangle(loops, [i, j, k], n, line)
                rs = []
                for t, (a, b, ta, tb) in zip(terms, pairs):
                    rs.append((a, b, ta, tb, t.coef))
                if len(rs) == 1:
                    a, b, ta, tb, c = rs[0]
                    return Routine("blas.gemm", ta + tb, [ext(i), ext(j), ext(k)], (alpha * c).build(pos),
                                   [a.local, b.local], call.beta.build(pos),
                                   _fits([(a, ta, (i, k)), (b, tb, (k, j)), (out, "N", (i, j))], loops, n, line),
                                   f"dgemm: {dims(out)} = {_times(alpha * c, n)}{dims(a)} * {dims(b)}"
                                   f"{_plus(call.beta, dims(out), n)}")
                raise Refused(f"a sum of {len(rs)} matrix products into one array (one BLAS call "
                              "computes one, or the symmetric pair of a rank-2k update)", line)
            # a triangle of the result: a symmetric rank-k (one product of an array with itself)
            # or rank-2k update (two products, each the other's transpose)
            rank = _symmetric(pairs, coefs)
            if rank is None:
                raise Refused(f"only a triangle of `{n[out.slot]}` is computed, and the product is "
                              "not one of an array with itself (syrk) or a symmetric pair (syr2k)", line)
            trans = pairs[0][2]
            kk = ext(k)
            size = tri.size
            flags = ("L" if tri.kind == "lower" else "U") + trans + ("S" if tri.strict else "")
            a = pairs[0][0]
            fits = _fits([(a, trans, (i, k)), (a, trans, (j, k))]
                         + ([(pairs[0][1], pairs[0][3], (k, j)), (pairs[0][1], pairs[0][3], (k, i))]
                            if rank == 2 else []) + [(out, "N", (i, j))], loops, n, line, square=(i, j, size))
            if rank == 1:
                return Routine("blas.syrk", flags, [size, kk], (alpha * coefs[0]).build(pos), [a.local],
                               call.beta.build(pos), fits,
                               f"dsyrk ({tri.text}): {dims(out)} = {_times(alpha * coefs[0], n)}"
                               f"{dims(a)} * {dims(pairs[0][1])}{_plus(call.beta, dims(out), n)}")
            b = pairs[0][1]
            return Routine("blas.syr2k", flags, [size, kk], (alpha * coefs[0]).build(pos), [a.local, b.local],
                           call.beta.build(pos), fits,
                           f"dsyr2k ({tri.text}): {dims(out)} = {_times(alpha * coefs[0], n)}"
                           f"({dims(a)} * {dims(b)} + {dims(pairs[1][0])} * {dims(pairs[1][1])})"
                           f"{_plus(call.beta, dims(out), n)}")
        if not sums and len(terms) == 1 and len(terms[0].operands) == 2 \
                and all(len(o.vars) == 1 for o in terms[0].operands):
            x = next((o for o in terms[0].operands if o.vars == (i,)), None)
            y = next((o for o in terms[0].operands if o.vars == (j,) and o is not x), None)
            if x is None or y is None:
                raise Refused(f"not an outer product of two vectors", line)
            if not (p.reads_out and call.beta.constant == 1.0):
                raise Refused(f"an outer product that does not add to `{n[out.slot]}` (ger adds)", line)
            _rectangle(loops, [i, j], n, line)
            return Routine("blas.ger", "", [ext(i), ext(j)], (alpha * coefs[0]).build(pos), [x.local, y.local], None,
                           _fits([(x, "N", (i,)), (y, "N", (j,)), (out, "N", (i, j))], loops, n, line),
                           f"dger: {dims(out)} += {_times(alpha * coefs[0], n)}{dims(x)} * {dims(y)}")
        if not sums and len(terms) > 1 and all(len(t.operands) == 2 for t in terms):
            raise Refused(f"a sum of {len(terms)} outer products (a rank-{len(terms)} update: one "
                          "BLAS call per product would be needed)", line)
    if len(out.vars) == 1 and len(terms) == 1:
        (i,) = out.vars
        sums = [lp.slot for lp in loops if lp.slot != i]
        ops = terms[0].operands
        if len(sums) == 1 and len(ops) == 2:
            j = sums[0]
            a = next((o for o in ops if len(o.vars) == 2 and set(o.vars) == {i, j}), None)
            x = next((o for o in ops if o.vars == (j,)), None)
            if a is not None and x is not None:
                _rectangle(loops, [i, j], n, line)
                trans = "N" if a.vars == (i, j) else "T"
                return Routine("blas.gemv", trans, [ext(i), ext(j)], (alpha * coefs[0]).build(pos), [a.local, x.local],
                               call.beta.build(pos),
                               _fits([(a, trans, (i, j)), (x, "N", (j,)), (out, "N", (i,))], loops, n, line),
                               f"dgemv: {dims(out)} = {_times(alpha * coefs[0], n)}{dims(a)} * {dims(x)}"
                               f"{_plus(call.beta, dims(out), n)}")
    raise Refused(f"a contraction no BLAS routine here computes "
                  f"({' + '.join(' * '.join(dims(o) for o in t.operands) for t in terms)} into {dims(out)})", line)


def _hull(loops: list[affine.Loop], v: int, depth: int = 0) -> "ir.Expr | None":
    """A value E the nest does not change, with 0 <= v < E in every iteration (v's loop running
    from 0 or from an outer variable on, up to E or to an outer variable, plus at most 1), else None."""
    lp = next((x for x in loops if x.slot == v), None)
    if lp is None or depth > len(loops):
        return None
    lo, hi = lp.lower, lp.upper
    if lo != Affine(0):
        outer = lo.loop_vars()
        if len(outer) != 1 or lo.const < 0 or len(lo.coeffs) != 1 or lo.coeffs[0][1] != 1:
            return None
        u = outer.pop()
        ulp = next((x for x in loops if x.slot == u), None)
        if ulp is None or _hull(loops, u, depth + 1) is None:
            return None
    if hi.symbolic():
        return lp.node.stop if _pure(lp.node.stop, lp.depth == 0) else None
    outer = hi.loop_vars()
    if len(outer) != 1 or hi.const > 1 or len(hi.coeffs) != 1 or hi.coeffs[0][1] != 1:
        return None
    return _hull(loops, outer.pop(), depth + 1)


def _rect_var(loops: list[affine.Loop], v: int) -> bool:
    lp = next(x for x in loops if x.slot == v)
    return lp.lower == Affine(0) and lp.upper.symbolic()


def _rectangle(loops: list[affine.Loop], vs: list[int], names: list[str], line: int) -> None:
    for v in vs:
        if not _rect_var(loops, v):
            raise Refused(f"the loop over `{names[v]}` does not run from 0 to a value the nest does not change "
                          "(a bound depends on another loop, or starts elsewhere)", line)


def _symmetric(pairs: list, coefs: list[Scalar]) -> "int | None":
    """1 for one product of an array with itself in the same layout (syrk), 2 for the pair
    a*b + b*a with one coefficient (syr2k), else None."""
    if len(pairs) == 1:
        a, b, ta, tb = pairs[0]
        if a.slot == b.slot and ta == ("N" if tb == "T" else "T"):
            return 1
        return None
    if len(pairs) == 2:
        (a1, b1, ta1, tb1), (a2, b2, ta2, tb2) = pairs
        if a1.slot == b2.slot and b1.slot == a2.slot and ta1 == ta2 and tb1 == tb2 and ta1 != tb1 \
                and coefs[0].same(coefs[1]):
            return 2
    return None


def _fits(uses: list, loops: list[affine.Loop], names: list[str], line: int,
          square: "tuple[int, int, ir.Expr] | None" = None) -> list[tuple[int, int, ir.Expr]]:
    """(array slot, dimension, extent) for each dimension each operand is indexed in: the extent of
    the loop variable it is indexed by must fit the array (for the row and column of a triangle,
    `square`, the size of the square the routine reads and writes)."""
    out = []
    for op, _, _ in uses:
        for d, v in enumerate(op.vars):
            lp = next(x for x in loops if x.slot == v)
            if square is not None and v in square[:2]:
                out.append((op.slot, d, square[2]))
            elif _rect_var(loops, v):
                out.append((op.slot, d, lp.node.stop))
            elif square is None and (hull := _hull(loops, v)) is not None:
                out.append((op.slot, d, hull))  # loops run as written over a triangle inside 0..hull
            else:
                raise Refused(f"the loop over `{names[v]}` has bounds this routine does not take", line)
    return out


def _trmm(call: Call, names: list[str], pos: dict[str, int]) -> Routine:
    """`B[i, j] += A[..] * B[k, j]` for k past i (or before it): B = alpha * op(unit triangle) * B."""
    p = call.product
    n = names
    out, line, loops = p.out, p.line, p.loops
    if len(out.vars) != 2 or not (p.reads_out and p.beta.constant == 1.0 and call.beta.same(call.alpha)):
        raise Refused(f"`{n[out.slot]}` is updated in place, but not as a triangular product "
                      "(B = alpha * (B + T * B))", line)
    i, j = out.vars
    term = p.terms[0]
    own = p.inplace
    assert own is not None
    others = [o for o in term.operands if o is not own]
    sums = [lp.slot for lp in loops if lp.slot not in out.vars]
    if len(others) != 1 or len(sums) != 1 or len(others[0].vars) != 2 or term.coef.constant != 1.0:
        raise Refused(f"an in-place update that is not a triangular matrix product", line)
    k = sums[0]
    a = others[0]
    if own.vars == (k, j) and set(a.vars) == {i, k}:
        side, row = "L", i  # B[i, j] += T[i, k] * B[k, j]
        trans = "N" if a.vars == (i, k) else "T"
    elif own.vars == (i, k) and set(a.vars) == {k, j}:
        side, row = "R", j  # B[i, j] += B[i, k] * T[k, j]
        trans = "N" if a.vars == (k, j) else "T"
    else:
        raise Refused(f"an in-place update that is not a triangular matrix product", line)
    lk = next(x for x in loops if x.slot == k)
    lrow = next(x for x in loops if x.slot == row)
    vrow = Affine.of({("v", row): 1})
    if lk.lower == vrow + Affine(1) and lk.upper == lrow.upper:
        after = True  # k > row
    elif lk.lower == Affine(0) and lk.upper == vrow:
        after = False  # k < row
    else:
        raise Refused(f"the sum over `{n[k]}` is not the part of a row past (or before) the "
                      "diagonal", line)
    # T's triangle in its own (row, column) terms: the sum runs past the diagonal -> upper when T's row
    # index is `row` (side L, T[i, k]) ...
    t_upper = after if side == "L" else not after
    a_upper = t_upper if trans == "N" else not t_upper
    _rectangle(loops, [i, j], n, line)
    other = j if side == "L" else i
    fits = _fits([(out, "N", (i, j))], loops, n, line) + [
        (a.slot, 0, next(x for x in loops if x.slot == row).node.stop),
        (a.slot, 1, next(x for x in loops if x.slot == row).node.stop)]
    del other
    flags = side + ("U" if a_upper else "L") + trans + "U"
    return Routine("blas.trmm", flags, [_extent(loops, i, n, line), _extent(loops, j, n, line)],
                   call.alpha.build(pos), [a.local], None, fits,
                   f"dtrmm (unit {'upper' if a_upper else 'lower'} triangle of `{n[a.slot]}`"
                   f"{', transposed' if trans == 'T' else ''}, from the {'left' if side == 'L' else 'right'}): "
                   f"{n[out.slot]} = {_times(call.alpha, n)}{n[a.slot]} * {n[out.slot]}")


# ---------------------------------------------------------------- the dispatch

def _routines(call: Call, names: list[str], pos: dict[str, int]) -> list[Routine]:
    """The BLAS calls of one product: one routine, or one per term of a sum of products (the first
    with the product's beta, the others adding to what it left)."""
    p = call.product
    try:
        return [_routine(call, names, pos)]
    except Refused:
        if len(p.terms) == 1 or p.inplace is not None:
            raise
    out = []
    for k, t in enumerate(p.terms):
        single = Product(p.out, [t], p.beta if k == 0 else Scalar(1.0), p.reads_out or k > 0, p.loops, p.line)
        beta = call.beta if k == 0 else Scalar(1.0)
        out.append(_routine(Call(single, call.alpha, beta, call.beta_reads if k == 0 else True), names, pos))
    return out


def _dispatch(f: ir.Function, root: ir.ForRange, steps: "list[Call | Loops]", names: list[str],
              intent: str = "contraction") -> ir.If:
    pos = {"line": root.line, "col": root.col}
    plan: "list[tuple[Call, Routine] | Loops]" = []
    for step in steps:
        if isinstance(step, Loops):
            plan.append(step)
        else:
            plan += [(step, r) for r in _routines(step, names, pos)]
    written: list[int] = []
    read: list[int] = []
    fits: list[tuple[int, int, ir.Expr]] = []
    for item in plan:
        if isinstance(item, Loops):
            out, arrays = item.out.slot, [x.slot for x in item.reads]
            fits += _fits([(o, "N", o.vars) for o in [item.out] + item.reads], item.loops, names, item.line)
        else:
            out, arrays = item[0].product.out.slot, [a.slot for a in item[1].arrays]  # type: ignore[attr-defined]
            fits += item[1].fits
        if out not in written:
            written.append(out)
        read += [a for a in arrays if a not in read]
    others = [s for s in read if s not in written]
    local = lambda s: ir.LocalGet(slot=s, ty=f.local_types[s], **pos)  # noqa: E731
    conds: list[ir.Expr] = [ir.CallBuiltin(name="blas.fits", args=[ir.Const(value=len(written), ty=INT, **pos)]
                                           + [local(s) for s in written + others], ty=BOOL, **pos)]
    seen: set[object] = set()
    from noodle.ir.printer import expr_text

    for slot, d, extent in fits:
        length = dimension(local(slot), d, pos)
        key = expr_text(extent), expr_text(length)
        if key[0] != key[1] and key not in seen:  # `len(a) <= len(a)` holds
            seen.add(key)
            conds.append(ir.Binary(op="cmp.le", a=copy.deepcopy(extent), b=length, ty=BOOL, **pos))
    for item in plan:  # divisors first: alpha and beta divide by them
        if isinstance(item, Loops):
            for d in item.divisors:
                cond = _nonzero(d, pos)
                if expr_text(cond) not in seen:
                    seen.add(expr_text(cond))
                    conds.append(cond)
        else:
            c = item[0]
            for d in c.alpha.divisors + c.beta.divisors + [x for t in c.product.terms for x in t.coef.divisors]:
                cond = _nonzero(d, pos)
                if expr_text(cond) not in seen:
                    seen.add(expr_text(cond))
                    conds.append(cond)
    for item in plan:
        if isinstance(item, Loops):
            continue
        c, r = item
        if c.alpha.constant is None or c.alpha.constant == 0.0:
            conds.append(_nonzero(r.alpha, pos))
        if c.beta_reads and r.beta is not None and (c.beta.constant is None or c.beta.constant == 0.0):
            conds.append(_nonzero(r.beta, pos))
    from noodle.ir.nest import all_of

    then: list[ir.Stmt] = []
    texts = []
    for item in plan:
        if isinstance(item, Loops):
            piece = copy.deepcopy(item.root)
            if item.swap:
                piece = _interchanged(piece)
                piece.note = "a piece of the distributed nest, its two loops interchanged: the inner one runs along rows"
                outer, inner = affine.perfect_loops(piece)[:2]
                texts.append(f"line {item.line} with its loops interchanged (`{names[inner.slot]}` inside "
                             f"`{names[outer.slot]}`: unit stride)")
            else:
                piece.note = "the part of the nest no BLAS routine computes, as written between the calls" \
                    if intent == "contraction" else "a piece of the distributed nest, as written"
                texts.append(f"line {item.line} as written")
            for n in walk(piece):
                if isinstance(n, ir.ForRange) and n is not piece:
                    n.intent = "nested"
            then.append(piece)
            continue
        c, r = item
        args: list[ir.Expr] = [ir.Const(value=r.flags, ty=STR, **pos)] + [copy.deepcopy(x) for x in r.sizes]
        args += [copy.deepcopy(r.alpha)] + [local(a.slot) for a in r.arrays]  # type: ignore[attr-defined]
        if r.beta is not None:
            args.append(copy.deepcopy(r.beta))
        args.append(local(c.product.out.slot))
        then.append(ir.ExprStmt(expr=ir.CallBuiltin(name=r.name, args=args, ty=NONE, **pos), **pos))
        texts.append(r.text)
    root.note = "; ".join(texts)
    return ir.If(cond=all_of(conds, pos), then=then, otherwise=[root], intent=intent, **pos)


def _interchanged(root: ir.ForRange) -> ir.ForRange:
    """The perfect nest of two loops with bounds the nest does not change, the loops exchanged."""
    outer = root
    inner = root.body[0]
    assert isinstance(inner, ir.ForRange)
    for name in ("slot", "start", "stop", "step", "line", "col"):
        a, b = getattr(outer, name), getattr(inner, name)
        setattr(outer, name, b)
        setattr(inner, name, a)
    return outer


def dimension(array: ir.LocalGet, d: int, pos: dict[str, int]) -> ir.Expr:
    """The length of `array`'s dimension d, as the guard reads it."""
    if d == 0:
        return ir.CallBuiltin(name="array.len", args=[array], ty=INT, **pos)
    return ir.Index(obj=ir.CallBuiltin(name="array.shape", args=[array], ty=ListT(INT), **pos),
                    index=ir.Const(value=d, ty=INT, **pos), ty=INT, **pos)


def _nonzero(e: ir.Expr, pos: dict[str, int]) -> ir.Expr:
    return ir.Binary(op="cmp.ne", a=copy.deepcopy(e), b=ir.Const(value=0.0, ty=FLOAT, **pos), ty=BOOL, **pos)
