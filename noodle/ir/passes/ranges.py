"""The `ranges` pass: prove int operations cannot overflow, so their checks can go.

Every int `+ - * // -x` carries an overflow check (the contract: overflow
raises, never wraps).  This pass computes an interval for int expressions —
constants, counting-loop variables, `len(...)`, `x % c`, `x & c`, and
immutable locals (parameters and `let`s, which are assigned once) refined by
the conditions that guard them — and marks on each operation
(`Binary.skip`/`Unary.skip`, bit 0 the lower bound, bit 1 the upper) the
checks its operands' intervals make unnecessary.

    for i in 0..n { for j in 0..n { total += (i * j) % 7 } }   // i*j: no check; total + …: upper only
    fn fib(n: int) -> int { if n < 2 { return n } return fib(n - 1) + fib(n - 2) }  // n - 1, n - 2: none

Facts from a condition hold in the branch it guards, and after an `if` whose
other branch always leaves (`return`, `throw`, `break`, `continue`).  Only
immutable slots carry facts, so nothing that runs later can invalidate them.
"""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.passes import register
from noodle.ir.types import INT, prune
from noodle.ir.walk import walk

MIN, MAX = -(2**63), 2**63 - 1
SKIP_LOW, SKIP_HIGH = 1, 2
#: No list, string or Array holds more than this many elements (a bound for len() and shapes).
MAX_LEN = 2**48

Interval = tuple[int, int]
FULL: Interval = (MIN, MAX)
Facts = dict[int, Interval]


def _clip(iv: Interval) -> Interval:
    return max(iv[0], MIN), min(iv[1], MAX)


def _meet(a: Interval, b: Interval) -> Interval:
    return max(a[0], b[0]), min(a[1], b[1])


def _stable_slots(f: ir.Function) -> set[int]:
    """Slots that are not `var`s and are assigned at most once (parameters: never): facts about them last."""
    sets: dict[int, int] = {}
    unstable: set[int] = set()
    for s in f.body:
        for node in walk(s):
            if isinstance(node, ir.LocalSet):
                sets[node.slot] = sets.get(node.slot, 0) + 1
            elif isinstance(node, ir.TryCatch) and node.slot >= 0:
                unstable.add(node.slot)
    for slot, n in sets.items():
        if n > 1 or slot < f.params:
            unstable.add(slot)
    unstable.update(f.mutable_slots)  # a `var` may change anywhere, a closure included
    return set(range(len(f.local_names))) - unstable


class _Ranges:
    def __init__(self, f: ir.Function) -> None:
        self.stable = _stable_slots(f)
        self.changed = False
        #: (id of an `and`/`or`, truth) -> (it, the facts it refined, the facts after): `a and b and c`
        #: refines its left operand, which refined its own; without this a chain of n cost n²/2
        self.refined: dict[tuple[int, bool], tuple[ir.Expr, Facts, Facts]] = {}

    # -- expressions: interval of the value, marking checks on the way
    def expr(self, e: ir.Expr, facts: Facts) -> Interval:
        if isinstance(e, ir.Const):
            return (e.value, e.value) if type(e.value) is int else FULL
        if isinstance(e, ir.LocalGet):
            return facts.get(e.slot, FULL)
        if isinstance(e, ir.Binary):
            a = self.expr(e.a, facts)
            b = self.expr(e.b, facts)
            return self.binary(e, a, b)
        if isinstance(e, ir.Unary):
            x = self.expr(e.x, facts)
            if e.op == "int.neg":
                if x[0] > MIN:
                    self.mark(e, SKIP_LOW | SKIP_HIGH)
                return _clip((-x[1], -x[0]))
            return FULL
        if isinstance(e, (ir.Logical, ir.Cond)):
            self.logical(e, facts)
            return FULL
        if isinstance(e, ir.CallBuiltin):
            for arg in e.args:
                self.expr(arg, facts)
            if e.name in ("len", "list.count", "str.count", "array.len"):
                return (0, MAX_LEN)
            if e.name == "str.find" or e.name == "list.index":
                return (-1, MAX_LEN)
            return FULL
        if isinstance(e, ir.Index) and isinstance(e.obj, ir.CallBuiltin) and e.obj.name == "array.shape":
            self.children(e, facts)
            return (0, MAX_LEN)  # an Array's extent, like a length
        # other expressions: visit children for the operations inside, value unknown
        self.children(e, facts)
        return FULL

    def children(self, node: ir.Node, facts: Facts) -> None:
        from noodle.ir.walk import children

        for c in children(node):
            if isinstance(c, (ir.Logical, ir.Cond)):
                self.logical(c, facts)
            else:
                self.expr(c, facts)

    def logical(self, e: "ir.Logical | ir.Cond", facts: Facts) -> None:
        if isinstance(e, ir.Cond):
            self.expr(e.cond, facts)
            self.expr(e.then, self.refine(e.cond, facts, True))
            self.expr(e.otherwise, self.refine(e.cond, facts, False))
        else:
            self.expr(e.a, facts)
            self.expr(e.b, self.refine(e.a, facts, e.op == "and"))

    def binary(self, e: ir.Binary, a: Interval, b: Interval) -> Interval:
        op = e.op
        if op == "int.add":
            return self.arith(e, (a[0] + b[0], a[1] + b[1]))
        if op == "int.sub":
            return self.arith(e, (a[0] - b[1], a[1] - b[0]))
        if op == "int.mul":
            products = (a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1])
            return self.arith(e, (min(products), max(products)))
        if op == "int.floordiv":
            if b[0] > 0 or b[1] < -1 or a[0] > MIN:
                self.mark(e, SKIP_LOW | SKIP_HIGH)
            if b[0] > 0:
                qs = (a[0] // b[0], a[0] // b[1], a[1] // b[0], a[1] // b[1])
                return _clip((min(qs), max(qs)))
            return FULL
        if op == "int.mod":
            if b[0] > 0:
                return (0, b[1] - 1)
            if b[1] < 0:
                return (b[0] + 1, 0)
            return FULL
        if op == "int.and" and (a[0] >= 0 or b[0] >= 0):
            return (0, min(x[1] for x in (a, b) if x[0] >= 0))
        return FULL

    def arith(self, e: ir.Binary, exact: Interval) -> Interval:
        skip = (SKIP_LOW if exact[0] >= MIN else 0) | (SKIP_HIGH if exact[1] <= MAX else 0)
        self.mark(e, skip)
        return _clip(exact)

    def mark(self, e: "ir.Binary | ir.Unary", skip: int) -> None:
        if skip and e.skip != skip:
            e.skip = skip
            self.changed = True

    # -- conditions: the facts that hold when `cond` is `truth`
    def refine(self, cond: ir.Expr, facts: Facts, truth: bool) -> Facts:
        if isinstance(cond, ir.Unary) and cond.op == "not":
            return self.refine(cond.x, facts, not truth)
        if isinstance(cond, ir.Logical):
            if (cond.op == "and") == truth:  # both sides hold
                known = self.refined.get((id(cond), truth))
                if known is not None and known[0] is cond and known[1] is facts:
                    return known[2]
                out = self.refine(cond.b, self.refine(cond.a, facts, truth), truth)
                self.refined[(id(cond), truth)] = (cond, facts, out)
                return out
            return facts
        if not isinstance(cond, ir.Binary) or not cond.op.startswith("cmp.") or cond.op in ("cmp.eq", "cmp.ne"):
            if isinstance(cond, ir.Binary) and cond.op in ("cmp.eq", "cmp.ne") and (cond.op == "cmp.eq") == truth:
                return self.equal(cond, facts)
            return facts
        op = cond.op[4:]
        if not truth:
            op = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt"}[op]
        out = facts
        for slot_side, other, rel in ((cond.a, cond.b, op), (cond.b, cond.a, _flip(op))):
            if isinstance(slot_side, ir.LocalGet) and slot_side.slot in self.stable and prune(slot_side.ty) == INT:
                o = self.expr(other, facts) if isinstance(other, (ir.Const, ir.LocalGet)) else FULL
                bound = {"lt": (MIN, o[1] - 1), "le": (MIN, o[1]), "gt": (o[0] + 1, MAX), "ge": (o[0], MAX)}[rel]
                out = dict(out)
                out[slot_side.slot] = _meet(out.get(slot_side.slot, FULL), bound)
        return out

    def equal(self, cond: ir.Binary, facts: Facts) -> Facts:
        out = facts
        for side, other in ((cond.a, cond.b), (cond.b, cond.a)):
            if isinstance(side, ir.LocalGet) and side.slot in self.stable and isinstance(other, ir.Const) \
                    and type(other.value) is int:
                out = dict(out)
                out[side.slot] = (other.value, other.value)
        return out

    # -- statements, in program order
    def body(self, stmts: list[ir.Stmt], facts: Facts) -> Facts:
        for s in stmts:
            facts = self.stmt(s, facts)
        return facts

    def stmt(self, s: ir.Stmt, facts: Facts) -> Facts:
        if isinstance(s, ir.LocalSet):
            iv = self.expr(s.value, facts)
            if s.slot in self.stable and prune(s.value.ty) == INT:
                facts = dict(facts)
                facts[s.slot] = iv
            return facts
        if isinstance(s, ir.If):
            self.expr(s.cond, facts)
            then_facts = self.refine(s.cond, facts, True)
            else_facts = self.refine(s.cond, facts, False)
            self.body(s.then, then_facts)
            self.body(s.otherwise, else_facts)
            then_exits, else_exits = _exits(s.then), _exits(s.otherwise)
            if then_exits and not else_exits:
                return else_facts
            if else_exits and not then_exits:
                return then_facts
            return facts
        if isinstance(s, ir.ForRange):
            start = self.expr(s.start, facts)
            stop = self.expr(s.stop, facts)
            step = self.expr(s.step, facts)
            inner = dict(facts)
            if s.slot in self.stable:
                if step[0] > 0:
                    inner[s.slot] = (start[0], max(start[0], stop[1] - 1))
                elif step[1] < 0:
                    inner[s.slot] = (min(start[1], stop[0] + 1), start[1])
            self.body(s.body, inner)
            return facts
        if isinstance(s, ir.While):
            self.expr(s.cond, facts)
            self.body(s.body, self.refine(s.cond, facts, True))
            return facts
        if isinstance(s, ir.ForEach):
            self.expr(s.iterable, facts)
            self.body(s.body, facts)
            return facts
        if isinstance(s, ir.TryCatch):
            self.body(s.body, facts)
            self.body(s.handler, facts)
            return facts
        self.children(s, facts)
        return facts


def _flip(op: str) -> str:
    return {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}[op]


def _exits(body: list[ir.Stmt]) -> bool:
    """Does this block always leave (so code after its `if` runs only on the other branch)?"""
    for s in body:
        if isinstance(s, (ir.Return, ir.Throw, ir.Break, ir.Continue)):
            return True
        if isinstance(s, ir.If) and s.otherwise and _exits(s.then) and _exits(s.otherwise):
            return True
    return False


@register("ranges", "prove int operations in range and drop their overflow checks")
def ranges_function(f: ir.Function) -> bool:
    r = _Ranges(f)
    r.body(f.body, {})
    return r.changed
