"""Affine dependence analysis of loop nests: what a nest's statements touch, which of their
instances depend on which, and the transformations that keeps legal.

A nest is modelled when its loops count by one (`for v in lo..hi`) with bounds affine in the
enclosing loops' variables and in *symbols* (ints the nest does not change: parameters, `let`s,
`len(x)`, `x.shape[k]`), triangular bounds included (`for j in 0..i + 1`), and its statements are
array stores and scalar assignments.  Every array access has one subscript per dimension,
affine when it can be read as such (an index that is not is kept as unknown: it may touch any
element).  A scalar assigned inside the nest is an array of no dimensions: all its instances touch
the same cell.

Two accesses depend when some pair of their instances touches the same memory (distinct array
variables are distinct memory here; a transformation's guard checks that at run time) and one of
them writes.  Whether such a pair exists is an integer linear problem — the loop bounds of both
instances, equal subscripts and the order asked for at each common loop — decided by
Fourier–Motzkin elimination with integer tightening (sound: "no solution" is never wrong; a
problem too big to decide counts as a solution).  The answer is the set of *direction vectors*
(`<`, `=`, `>` per common loop) the dependence can have.

From those: loop distribution (`distribute`: a loop whose body does independent things becomes
one loop per thing, in an order every dependence allows) and interchange legality
(`interchange_refusal`).  Every refusal is a sentence with a line number, kept for `--explain`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from math import gcd
from typing import Callable, Iterable

from noodle.ir import nodes as ir
from noodle.ir.types import INT, ArrayT, prune
from noodle.ir.walk import walk

# ---------------------------------------------------------------- affine expressions

#: a variable of an affine form: ("v", slot) a loop variable, ("p", text) a symbol
Key = tuple


@dataclass(frozen=True)
class Affine:
    """`const + sum(c * x for x, c in coeffs)`, coefficients non-zero, keys sorted."""

    const: int = 0
    coeffs: tuple[tuple[Key, int], ...] = ()

    @staticmethod
    def of(terms: dict[Key, int], const: int = 0) -> "Affine":
        return Affine(const, tuple(sorted((k, c) for k, c in terms.items() if c)))

    def as_dict(self) -> dict[Key, int]:
        return dict(self.coeffs)

    def __add__(self, other: "Affine") -> "Affine":
        d = self.as_dict()
        for k, c in other.coeffs:
            d[k] = d.get(k, 0) + c
        return Affine.of(d, self.const + other.const)

    def scale(self, k: int) -> "Affine":
        return Affine.of({x: c * k for x, c in self.coeffs}, self.const * k)

    def __sub__(self, other: "Affine") -> "Affine":
        return self + other.scale(-1)

    def coeff(self, key: Key) -> int:
        return self.as_dict().get(key, 0)

    def loop_vars(self) -> set[int]:
        return {k[1] for k, _ in self.coeffs if k[0] == "v"}

    def is_var(self) -> "int | None":
        """The loop variable's slot when this is exactly one loop variable, else None."""
        if self.const == 0 and len(self.coeffs) == 1 and self.coeffs[0][1] == 1 and self.coeffs[0][0][0] == "v":
            return self.coeffs[0][0][1]
        return None

    def symbolic(self) -> bool:
        """No loop variable in it: a value the whole nest sees the same."""
        return not self.loop_vars()

    def text(self, names: "dict[int, str] | None" = None) -> str:
        parts = []
        for (kind, x), c in self.coeffs:
            name = (names or {}).get(x, f"%{x}") if kind == "v" else str(x)
            parts.append(name if c == 1 else f"-{name}" if c == -1 else f"{c}*{name}")
        if self.const or not parts:
            parts.append(str(self.const))
        return " + ".join(parts).replace("+ -", "- ")


class Symbols:
    """The symbols of one nest: the ints it does not change, by their text, and an IR expression of each."""

    def __init__(self, assigned: set[int]) -> None:
        self.assigned = assigned  # slots the nest assigns (loop variables included)
        self.exprs: dict[str, ir.Expr] = {}


def _symbol_text(e: ir.Expr, assigned: set[int]) -> "str | None":
    """A text naming `e` when it is an int the nest cannot change and reading it twice is harmless."""
    if isinstance(e, ir.LocalGet) and e.slot not in assigned:
        return f"%{e.slot}"
    if isinstance(e, ir.CallBuiltin) and e.name in ("array.len", "len") and len(e.args) == 1 \
            and isinstance(e.args[0], ir.LocalGet) and e.args[0].slot not in assigned:
        return f"len(%{e.args[0].slot})"
    if isinstance(e, ir.Index) and isinstance(e.obj, ir.CallBuiltin) and e.obj.name == "array.shape" \
            and isinstance(e.obj.args[0], ir.LocalGet) and e.obj.args[0].slot not in assigned \
            and isinstance(e.index, ir.Const) and type(e.index.value) is int:
        return f"%{e.obj.args[0].slot}.shape[{e.index.value}]"
    return None


def affine(e: ir.Expr, loop_vars: set[int], symbols: Symbols) -> "Affine | None":
    """`e` as an affine form over the loop variables and the symbols, or None."""
    if isinstance(e, ir.Const) and type(e.value) is int:
        return Affine(e.value)
    if isinstance(e, ir.LocalGet) and e.slot in loop_vars:
        return Affine.of({("v", e.slot): 1})
    text = _symbol_text(e, symbols.assigned)
    if text is not None and prune(e.ty) == INT:
        symbols.exprs.setdefault(text, e)
        return Affine.of({("p", text): 1})
    if isinstance(e, ir.Binary) and e.op in ("int.add", "int.sub", "int.mul"):
        a, b = affine(e.a, loop_vars, symbols), affine(e.b, loop_vars, symbols)
        if a is None or b is None:
            return None
        if e.op == "int.add":
            return a + b
        if e.op == "int.sub":
            return a - b
        if not a.coeffs:
            return b.scale(a.const)
        if not b.coeffs:
            return a.scale(b.const)
        return None
    if isinstance(e, ir.CallBuiltin) and e.name == "range.incl_stop" and len(e.args) == 1:  # `lo..=hi`
        x = affine(e.args[0], loop_vars, symbols)
        return None if x is None else x + Affine(1)
    if isinstance(e, ir.Unary) and e.op == "int.neg":
        x = affine(e.x, loop_vars, symbols)
        return None if x is None else x.scale(-1)
    return None


# ---------------------------------------------------------------- the model of a nest

@dataclass(eq=False)
class Loop:
    """A loop of the nest: `for slot in lower..upper` (upper excluded), counting by one."""

    node: ir.ForRange
    slot: int
    lower: Affine
    upper: Affine
    depth: int  # 0 for the outermost loop of the nest


@dataclass(eq=False)
class Access:
    """One array (or scalar) access of a statement."""

    target: Key  # ("a", slot) an array, ("s", slot) a scalar the nest assigns
    subscripts: "tuple[Affine | None, ...]"  # None: not affine (any element)
    write: bool
    node: ir.Node


@dataclass(eq=False)
class Statement:
    """A statement of the nest (not a loop) with the loops around it, outermost first."""

    node: ir.Stmt
    loops: tuple[Loop, ...]
    order: tuple[int, ...]  # position among its siblings at each level: textual order is tuple order
    accesses: list[Access] = field(default_factory=list)


@dataclass(eq=False)
class Nest:
    """A modelled loop nest."""

    root: ir.ForRange
    statements: list[Statement]
    loops: list[Loop]
    symbols: Symbols

    def loop_of(self, node: ir.ForRange) -> Loop:
        return next(lp for lp in self.loops if lp.node is node)


class Refused(Exception):
    """Why a nest cannot be modelled or transformed: a sentence for `--explain`."""

    def __init__(self, reason: str, line: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


class remembering:  # noqa: N801 - used as a function: `with remembering(): ...`
    """While the recognisers look at one nest, its model and its distribution are computed once:
    each recogniser asks for them again (the contraction's, the batched product's, the
    interchange's ...).  The nest must not change inside: `noodle.ir.passes.intents` leaves the
    block before rewriting it.  Nested blocks share the outer one's memory."""

    def __enter__(self) -> None:
        global _remembered
        self.outer = _remembered is not None
        if not self.outer:
            _remembered = {}

    def __exit__(self, *exc: object) -> None:
        global _remembered
        if not self.outer:
            _remembered = None


#: (what, id of the root) -> (the root itself, kept so that its id stays its own; the answer)
_remembered: "dict[tuple[str, int], tuple[ir.ForRange, object]] | None" = None


def _recall(what: str, root: ir.ForRange, compute: "Callable[[], object]") -> object:
    """`compute()`, or its answer (a Refused raised again) while `remembering` holds one for root."""
    if _remembered is None:
        return compute()
    hit = _remembered.get((what, id(root)))
    if hit is None or hit[0] is not root:
        try:
            answer: object = compute()
        except Refused as e:
            answer = e
        hit = _remembered[(what, id(root))] = (root, answer)
    if isinstance(hit[1], Refused):
        raise hit[1]
    return hit[1]


#: The most statements a modelled nest may have. Its dependence tests are pairs of accesses times
#: direction vectors (up to three per common loop), each an integer problem: nested constant loops
#: unrolled by `small_loops` (up to 64 statements) under a few more loops took seconds to compile
#: each (8 nested 2-trip loops: 10 s). 32 holds a 27-point stencil written with offset loops.
MAX_STATEMENTS = 32


def model(f: ir.Function, root: ir.ForRange) -> Nest:
    """The model of the nest at `root`; raises Refused saying why it has none."""
    return _recall("model", root, lambda: _model(f, root))  # type: ignore[return-value]


def _model(f: ir.Function, root: ir.ForRange) -> Nest:
    assigned = {n.slot for n in walk(root) if isinstance(n, (ir.LocalSet, ir.ForRange))}
    symbols = Symbols(assigned)
    nest = Nest(root, [], [], symbols)
    loop_slots = {n.slot for n in walk(root) if isinstance(n, ir.ForRange)}
    scalars = {n.slot for n in walk(root) if isinstance(n, ir.LocalSet)}
    if loop_slots & scalars:
        raise Refused("a loop variable is assigned inside the nest", root.line)

    def visit(s: ir.Stmt, loops: tuple[Loop, ...], order: tuple[int, ...]) -> None:
        if isinstance(s, ir.ForRange):
            if not (isinstance(s.step, ir.Const) and s.step.value == 1):
                raise Refused("a loop does not count by one", s.line)
            if any(lp.slot == s.slot for lp in loops):
                raise Refused("a loop reuses an enclosing loop's variable", s.line)
            outer = {lp.slot for lp in loops}
            lo, hi = affine(s.start, outer, symbols), affine(s.stop, outer, symbols)
            if lo is None or hi is None:
                which = "lower" if lo is None else "upper"
                raise Refused(f"the {which} bound is not affine in the enclosing loops' variables and values "
                              "the nest does not change", s.line)
            lp = Loop(s, s.slot, lo, hi, len(loops))
            nest.loops.append(lp)
            for k, child in enumerate(s.body):
                visit(child, loops + (lp,), order + (k,))
            return
        st = Statement(s, loops, order)
        in_scope = {lp.slot for lp in loops}
        if isinstance(s, ir.LocalSet):
            _reads(s.value, st, in_scope, scalars, symbols, s.line)
            st.accesses.append(Access(("s", s.slot), (), True, s))
        elif isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.CallBuiltin) and s.expr.name == "array.set":
            arr = s.expr.args[0]
            if not (isinstance(arr, ir.LocalGet) and isinstance(prune(arr.ty), ArrayT) and arr.slot not in assigned):
                raise Refused("a store into an array the nest does not name by a variable", s.line)
            ndim = prune(arr.ty).ndim  # type: ignore[union-attr]
            index = s.expr.args[1:-1]
            if len(index) != ndim:
                raise Refused("a store into part of an array (a row), not one element", s.line)
            for x in index:
                _reads(x, st, in_scope, scalars, symbols, s.line)
            _reads(s.expr.args[-1], st, in_scope, scalars, symbols, s.line)
            st.accesses.append(Access(("a", arr.slot), tuple(affine(x, in_scope, symbols) for x in index), True, s))
        else:
            raise Refused(f"{_what(s)} in the nest: only array stores, assignments and counting loops are "
                          "analysed", s.line)
        nest.statements.append(st)

    visit(root, (), ())
    if len(nest.statements) > MAX_STATEMENTS:
        raise Refused(f"{len(nest.statements)} statements in the nest: more than the dependence analysis "
                      f"takes ({MAX_STATEMENTS})", root.line)
    return nest


def _what(s: ir.Stmt) -> str:
    if isinstance(s, ir.ExprStmt) and isinstance(s.expr, (ir.Call, ir.CallBuiltin, ir.CallMod, ir.CallValue)):
        return "a call"
    return {"If": "an `if`", "While": "a `while` loop", "ForEach": "a `for` over a collection",
            "Break": "`break`", "Continue": "`continue`", "Return": "`return`"}.get(type(s).__name__,
                                                                                     f"a {type(s).__name__}")


def _reads(e: ir.Expr, st: Statement, in_scope: set[int], scalars: set[int], symbols: Symbols, line: int) -> None:
    """Record what `e` reads; refuse what the analysis cannot see through (calls with effects, closures)."""
    for n in walk(e):
        if isinstance(n, ir.CallBuiltin) and n.name == "array.get":
            arr = n.args[0]
            if not (isinstance(arr, ir.LocalGet) and isinstance(prune(arr.ty), ArrayT)
                    and arr.slot not in symbols.assigned):
                raise Refused("a read from an array the nest does not name by a variable", line)
            ndim = prune(arr.ty).ndim  # type: ignore[union-attr]
            if len(n.args) - 1 != ndim:
                raise Refused("a read of part of an array (a row), not one element", line)
            st.accesses.append(Access(("a", arr.slot), tuple(affine(x, in_scope, symbols) for x in n.args[1:]),
                                      False, n))
        elif isinstance(n, ir.LocalGet) and n.slot in scalars:
            st.accesses.append(Access(("s", n.slot), (), False, n))
        elif isinstance(n, (ir.Call, ir.CallMod, ir.CallValue, ir.Closure, ir.FreeGet, ir.GlobalGet)):
            raise Refused("a call or a non-local value in the nest (it may touch the arrays)", line)
        elif isinstance(n, ir.CallBuiltin) and n.name.startswith(("array.set", "list.", "map.", "print")):
            raise Refused(f"`{n.name}` in an expression of the nest", line)


# ---------------------------------------------------------------- integer feasibility

#: constraints beyond this many: the problem counts as having a solution (a dependence is assumed)
_LIMIT = 400

#: a constraint `sum(c * x) + const >= 0` (or `== 0`): (coefficients, const)
Row = tuple[dict[Key, int], int]


def _normalise(coeffs: dict[Key, int], const: int) -> "Row | None":
    """Divide by the coefficients' gcd, rounding the constant down (valid for integer variables);
    None for a row with no variables (the caller checks its sign)."""
    coeffs = {k: c for k, c in coeffs.items() if c}
    if not coeffs:
        return None
    g = 0
    for c in coeffs.values():
        g = gcd(g, abs(c))
    return {k: c // g for k, c in coeffs.items()}, const // g


_memo: dict[tuple, bool] = {}


def _frozen(rows: list[Row]) -> tuple:
    return tuple(sorted((tuple(sorted((str(k), c) for k, c in r.items() if c)), k) for r, k in rows))


def feasible(eqs: list[Row], ineqs: list[Row]) -> bool:
    """Can the integer system `eqs == 0`, `ineqs >= 0` hold?  False only when it surely cannot.
    (Remembered: the pairs of accesses of a nest ask the same questions again and again.)"""
    key = (_frozen(eqs), _frozen(ineqs))
    known = _memo.get(key)
    if known is None:
        if len(_memo) > 50_000:
            _memo.clear()
        known = _memo[key] = _feasible(eqs, ineqs)
    return known


def _feasible(eqs: list[Row], ineqs: list[Row]) -> bool:
    eqs = [(dict(c), k) for c, k in eqs]
    ineqs = [(dict(c), k) for c, k in ineqs]
    # equalities: substitute a variable out (exactly when its coefficient is ±1, rationally otherwise,
    # which can only make an impossible system look possible: still sound)
    while eqs:
        coeffs, const = eqs.pop()
        coeffs = {k: c for k, c in coeffs.items() if c}
        if not coeffs:
            if const != 0:
                return False
            continue
        g = 0
        for c in coeffs.values():
            g = gcd(g, abs(c))
        if const % g:
            return False  # the gcd test: no integer solution
        key = min(coeffs, key=lambda k: (abs(coeffs[k]), k))
        a = coeffs[key]
        if abs(a) != 1:  # rational substitution: scale the other rows instead of dividing
            def subst(row: Row) -> Row:
                rc, rk = row
                b = rc.get(key, 0)
                if not b:
                    return row
                out = {k: v * abs(a) for k, v in rc.items() if k != key}
                sign = 1 if a > 0 else -1
                for k, v in coeffs.items():
                    if k != key:
                        out[k] = out.get(k, 0) - sign * b * v
                return out, rk * abs(a) - sign * b * const
        else:
            def subst(row: Row) -> Row:
                rc, rk = row
                b = rc.get(key, 0)
                if not b:
                    return row
                out = {k: v for k, v in rc.items() if k != key}
                for k, v in coeffs.items():  # key = -(sum others + const) / a
                    if k != key:
                        out[k] = out.get(k, 0) - a * b * v
                return out, rk - a * b * const
        eqs = [subst(r) for r in eqs]
        ineqs = [subst(r) for r in ineqs]
    rows: list[Row] = []
    for c, k in ineqs:
        n = _normalise(c, k)
        if n is None:
            if k < 0:
                return False
            continue
        rows.append(n)
    while rows:
        if len(rows) > _LIMIT:
            return True
        # eliminate the variable that makes the fewest new rows (one bounded on one side only
        # makes none: its rows just go)
        ups: dict[Key, int] = {}
        downs: dict[Key, int] = {}
        for c, _ in rows:
            for x, v in c.items():
                if v > 0:
                    ups[x] = ups.get(x, 0) + 1
                elif v < 0:
                    downs[x] = downs.get(x, 0) + 1
        best = min(set(ups) | set(downs), key=lambda x: (ups.get(x, 0) * downs.get(x, 0), str(x)))
        pos = [r for r in rows if r[0].get(best, 0) > 0]
        neg = [r for r in rows if r[0].get(best, 0) < 0]
        rest = [r for r in rows if not r[0].get(best, 0)]
        for (pc, pk), (nc, nk) in itertools.product(pos, neg):
            a, b = pc[best], -nc[best]
            combined = {k: pc.get(k, 0) * b + nc.get(k, 0) * a for k in set(pc) | set(nc) if k != best}
            n = _normalise(combined, pk * b + nk * a)
            if n is None:
                if pk * b + nk * a < 0:
                    return False
                continue
            rest.append(n)
        rows = _dedupe(rest)
    return True


def _dedupe(rows: list[Row]) -> list[Row]:
    """One row per left-hand side, the tightest constant."""
    best: dict[tuple, int] = {}
    for c, k in rows:
        key = tuple(sorted(c.items()))
        best[key] = min(best.get(key, k), k)
    return [(dict(key), k) for key, k in best.items()]


# ---------------------------------------------------------------- dependences

@dataclass(frozen=True)
class Dependence:
    """`sink` may touch what `source` touched, later: a direction per loop they share (`<`: a later
    iteration of that loop, `=`: the same one)."""

    source: Statement
    sink: Statement
    source_access: Access
    sink_access: Access
    directions: tuple[str, ...]

    @property
    def kind(self) -> str:
        w1, w2 = self.source_access.write, self.sink_access.write
        return "output" if w1 and w2 else "flow" if w1 else "anti"

    def carried_at(self) -> "int | None":
        """The depth of the loop that carries it (its first `<`), None when loop-independent."""
        return next((k for k, d in enumerate(self.directions) if d == "<"), None)


def _common(a: Statement, b: Statement) -> list[Loop]:
    out = []
    for x, y in zip(a.loops, b.loops):
        if x is not y:
            break
        out.append(x)
    return out


def _instance_rows(st: Statement, tag: int) -> list[Row]:
    """The bounds of `st`'s loops for instance `tag`: lower <= v <= upper - 1."""
    rows: list[Row] = []
    for lp in st.loops:
        v = ("v", lp.slot, tag)
        lo, hi = _tagged(lp.lower, tag), _tagged(lp.upper, tag)
        rows.append(({**{k: -c for k, c in lo[0].items()}, v: 1}, -lo[1]))  # v - lo >= 0
        d = dict(hi[0])
        d[v] = d.get(v, 0) - 1
        rows.append((d, hi[1] - 1))  # hi - 1 - v >= 0
    return rows


def _tagged(a: Affine, tag: int) -> Row:
    """The form with its loop variables renamed for instance `tag` (symbols are shared)."""
    return {(k[0], k[1], tag) if k[0] == "v" else k: c for k, c in a.coeffs}, a.const


def direction_vectors(a: Statement, x: Access, b: Statement, y: Access) -> list[tuple[str, ...]]:
    """Every direction vector (per common loop: the sign of b's iteration minus a's) for which an
    instance of access `x` in `a` and one of `y` in `b` touch the same memory."""
    if x.target != y.target:
        return []
    common = _common(a, b)
    base = _instance_rows(a, 1) + _instance_rows(b, 2)
    eqs: list[Row] = []
    for s1, s2 in zip(x.subscripts, y.subscripts):
        if s1 is None or s2 is None:
            continue  # not affine: any element
        r1, r2 = _tagged(s1, 1), _tagged(s2, 2)
        d = dict(r1[0])
        for k, c in r2[0].items():
            d[k] = d.get(k, 0) - c
        eqs.append((d, r1[1] - r2[1]))
    # Two shortcuts keep the number of integer problems small (both exact or over-approximating,
    # never missing a dependence):
    # - a level whose variable appears in no subscript and no other loop's bounds constrains
    #   nothing else: every direction the rest allows is allowed at it (`free`);
    # - a subscript pair `v + c1` / `v + c2` (v a common loop, the rest equal) fixes the distance.
    used: set[int] = set()
    for s1, s2 in zip(x.subscripts, y.subscripts):
        for sub in (s1, s2):
            used |= sub.loop_vars() if sub is not None else set()
    for lp in a.loops + b.loops:
        used |= lp.lower.loop_vars() | lp.upper.loop_vars()
    fixed: dict[int, str] = {}
    for s1, s2 in zip(x.subscripts, y.subscripts):
        if s1 is None or s2 is None:
            continue
        diff = s1 - s2  # v1 + c1 - (v2 + c2), written over the shared slot: the v terms cancel
        vs = s1.loop_vars() & s2.loop_vars()
        if diff.symbolic() and len(vs) == 1 and not diff.coeffs:
            v = vs.pop()
            if s1.coeff(("v", v)) == s2.coeff(("v", v)) == 1 and any(lp.slot == v for lp in common):
                # same element: v2 - v1 = c1 - c2
                fixed[v] = "<" if diff.const > 0 else ">" if diff.const < 0 else "="
    free = [lp.slot not in used and lp.slot not in fixed for lp in common]
    out: list[tuple[str, ...]] = []

    def search(prefix: tuple[str, ...], extra_eqs: list[Row], rows: list[Row]) -> None:
        if not feasible(eqs + extra_eqs, base + rows):
            return
        if len(prefix) == len(common):
            out.append(prefix)
            return
        lp = common[len(prefix)]
        v1, v2 = ("v", lp.slot, 1), ("v", lp.slot, 2)
        if free[len(prefix)]:  # decided after the search: any direction
            search(prefix + ("*",), extra_eqs, rows)
            return
        want = fixed.get(lp.slot)
        if want in (None, "<"):
            search(prefix + ("<",), extra_eqs, rows + [({v2: 1, v1: -1}, -1)])
        if want in (None, "="):
            search(prefix + ("=",), extra_eqs + [({v1: 1, v2: -1}, 0)], rows)
        if want in (None, ">"):
            search(prefix + (">",), extra_eqs, rows + [({v1: 1, v2: -1}, -1)])

    search((), [], [])
    expanded: list[tuple[str, ...]] = []
    for vec in out:
        options = [("<", "=", ">") if d == "*" else (d,) for d in vec]
        expanded.extend(itertools.product(*options))
    return expanded


def dependences(nest: Nest) -> list[Dependence]:
    """Every dependence between the nest's statement instances, with its direction vectors."""
    out: list[Dependence] = []
    sts = nest.statements
    for i, a in enumerate(sts):
        for b in sts[i:]:
            for kx, x in enumerate(a.accesses):
                for y in (b.accesses[kx:] if a is b else b.accesses):
                    if not (x.write or y.write) or x.target != y.target:
                        continue
                    for vec in direction_vectors(a, x, b, y):
                        first = next((d for d in vec if d != "="), "=")
                        if first == "<":
                            out.append(Dependence(a, b, x, y, vec))
                        elif first == ">":
                            out.append(Dependence(b, a, y, x, tuple(_flip(d) for d in vec)))
                        elif a is not b:  # the same iterations: the one written first comes first
                            out.append(Dependence(a, b, x, y, vec))
                        elif x is not y:
                            # within one statement instance its reads come before its write
                            r, w = (x, y) if y.write else (y, x)
                            out.append(Dependence(a, a, r, w, vec))
    return out


def _flip(d: str) -> str:
    return {"<": ">", ">": "<"}.get(d, d)


# ---------------------------------------------------------------- transformations

def _under(st: Statement, loop: Loop) -> bool:
    return loop in st.loops


def distribute(f: ir.Function, root: ir.ForRange, nest: "Nest | None" = None) -> list[ir.ForRange]:
    """The nest at `root` split into as many nests as its dependences allow (Allen–Kennedy
    distribution, innermost loops first), in an order that keeps every dependence's source before
    its sink.  `[root]` (unchanged) when nothing splits.  The loops are new nodes; the statements
    are shared with the original nest.  Raises Refused when the nest cannot be modelled."""
    return _recall("distribute", root, lambda: _distribute(f, root, nest))  # type: ignore[return-value]


def _distribute(f: ir.Function, root: ir.ForRange, nest: "Nest | None") -> list[ir.ForRange]:
    import copy

    nest = nest or model(f, root)
    if len(nest.statements) <= 1:
        return [root]  # one statement: nothing to split
    deps = dependences(nest)
    by_node = {id(st.node): st for st in nest.statements}

    def statements_of(s: ir.Stmt) -> list[Statement]:
        if isinstance(s, ir.ForRange):
            return [by_node[id(x)] for x in walk(s) if id(x) in by_node]
        return [by_node[id(s)]]

    def split(loop: ir.ForRange, depth: int) -> list[ir.ForRange]:
        body: list[ir.Stmt] = []
        for child in loop.body:
            if isinstance(child, ir.ForRange):
                body.extend(split(child, depth + 1))
            else:
                body.append(child)
        groups = _groups(body, depth, statements_of, deps)
        out = []
        for group in groups:
            clone = copy.copy(loop)
            clone.body = [body[k] for k in group]
            out.append(clone)
        return out

    pieces = split(root, 0)
    return [root] if len(pieces) == 1 and _same(pieces[0], root) else pieces


def _same(a: ir.ForRange, b: ir.ForRange) -> bool:
    """Did splitting change nothing (every loop kept its body)?"""
    if len(a.body) != len(b.body):
        return False
    for x, y in zip(a.body, b.body):
        if isinstance(x, ir.ForRange) and isinstance(y, ir.ForRange):
            if not _same(x, y):
                return False
        elif x is not y:
            return False
    return True


def _groups(body: list[ir.Stmt], depth: int, statements_of, deps: list[Dependence]) -> list[list[int]]:
    """The children of a loop at `depth` grouped into strongly connected components of the
    dependences that stay inside one iteration of the loops around it, in a topological order
    (the original order where the dependences leave a choice)."""
    owner: dict[int, int] = {}
    for k, child in enumerate(body):
        for st in statements_of(child):
            owner[id(st)] = k
    n = len(body)
    edges: dict[int, set[int]] = {k: set() for k in range(n)}
    for d in deps:
        a, b = owner.get(id(d.source)), owner.get(id(d.sink))
        if a is None or b is None or a == b:
            continue
        if all(x == "=" for x in d.directions[:depth]):
            edges[a].add(b)
    comp = _scc(n, edges)
    # components in topological order, earliest child first among the ready ones
    members: dict[int, list[int]] = {}
    for k in range(n):
        members.setdefault(comp[k], []).append(k)
    cedges: dict[int, set[int]] = {c: set() for c in members}
    indeg = {c: 0 for c in members}
    for a, bs in edges.items():
        for b in bs:
            ca, cb = comp[a], comp[b]
            if ca != cb and cb not in cedges[ca]:
                cedges[ca].add(cb)
                indeg[cb] += 1
    order: list[list[int]] = []
    ready = sorted((min(members[c]), c) for c in members if indeg[c] == 0)
    while ready:
        _, c = ready.pop(0)
        order.append(members[c])
        for x in cedges[c]:
            indeg[x] -= 1
            if indeg[x] == 0:
                ready.append((min(members[x]), x))
                ready.sort()
    return order


def _scc(n: int, edges: dict[int, set[int]]) -> dict[int, int]:
    """Tarjan's strongly connected components: node -> component id."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on: set[int] = set()
    comp: dict[int, int] = {}
    counter = itertools.count()

    def visit(v: int) -> None:
        index[v] = low[v] = next(counter)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            while True:
                w = stack.pop()
                on.discard(w)
                comp[w] = v
                if w == v:
                    break

    for v in range(n):
        if v not in index:
            visit(v)
    return comp


def perfect_loops(root: ir.ForRange) -> "list[ir.ForRange]":
    """The loops of a perfect nest (each loop's body is one loop, but the innermost's), outermost first."""
    loops = [root]
    while len(loops[-1].body) == 1 and isinstance(loops[-1].body[0], ir.ForRange):
        loops.append(loops[-1].body[0])  # type: ignore[arg-type]
    return loops


def interchange_refusal(nest: Nest, order: Iterable[int], names: "dict[int, str] | None" = None) -> "str | None":
    """None when the perfect nest's loops may run in `order` (loop variable slots, outermost
    first), else why not: a dependence whose direction vector, permuted, would run its sink
    before its source."""
    order = list(order)
    depth_of = {lp.slot: lp.depth for lp in nest.loops}
    for lp in nest.loops:  # a bound may only use loops that stay outside it
        outside = set(order[: order.index(lp.slot)])
        used = (lp.lower.loop_vars() | lp.upper.loop_vars())
        if not used <= outside:
            return f"line {lp.node.line}: the bounds of this loop use a loop that would move inside it"
    for d in dependences(nest):
        vec = [d.directions[depth_of[s]] for s in order if depth_of[s] < len(d.directions)]
        first = next((x for x in vec if x != "="), "=")
        if first == ">":
            name = lambda k: (names or {}).get(k[1], f"%{k[1]}") if k[0] in ("a", "s") else str(k)  # noqa: E731
            return (f"line {d.sink.node.line}: the {d.kind} dependence on `{name(d.source_access.target)}` "
                    f"(directions {''.join(d.directions)}) would be reversed")
    return None


def reads_see_only_old_values(nest: Nest, target: Key, keep: "Access | None" = None) -> "str | None":
    """None when no read of `target` in the nest can see a value the nest wrote into it (the
    statement's own accumulator read `keep` excepted), else which read can."""
    for d in dependences(nest):
        if d.kind == "flow" and d.source_access.target == target and d.sink_access is not keep:
            return "an element of the array written earlier in the nest is read again"
    return None


__all__ = ["Affine", "Access", "Dependence", "Loop", "Nest", "Refused", "Statement", "affine", "dependences",
           "direction_vectors", "distribute", "feasible", "interchange_refusal", "model", "perfect_loops",
           "reads_see_only_old_values"]
