"""Which IR a native backend can take: scalar functions and loops, and the plan of what runs natively.

Shared by the llvmlite backend (which lowers what qualifies) and the `outline`
pass (which moves qualifying loops out of functions that do not), so both
agree on one definition.  No LLVM here: the compiler uses it without llvmlite.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import typing
from typing import NamedTuple

from noodle.ir import variants
from noodle.ir import nodes as ir
from noodle.ir.types import BOOL, F32, FLOAT, I32, INT, NONE, ArrayT, TupleT, prune

#: the math module's functions native code computes itself: the libm functions CPython's math module
#: calls, with its checks (noodle.backends.llvm.mathlib).  Not `math.hypot`: CPython computes it with
#: an algorithm of its own, whose last bit libm's hypot does not always match.
MATH_BUILTINS = {"math.sqrt", "math.sin", "math.cos", "math.tan", "math.asin", "math.acos", "math.atan",
                 "math.exp", "math.log", "math.log2arg", "math.fabs", "math.atan2", "math.pow", "math.floor",
                 "math.ceil", "math.isnan", "math.isinf"}

#: natives that make a new Array (noodle.backends.llvm.local_arrays): a native function may keep
#: one in a local of its own, which it frees when it returns
ARRAY_MAKERS = {"array.zeros", "array.ones", "array.full.float", "array.full.int"}

#: natives the backend lowers itself
NATIVE_BUILTINS = MATH_BUILTINS | {"abs.int", "abs.float", "min2", "max2", "int.float", "int.int", "float.float",
                   # the 32-bit types (noodle.stdlib.narrow)
                   "f32.add", "f32.sub", "f32.mul", "f32.div", "f32.neg", "i32.add", "i32.sub", "i32.mul",
                   "i32.floordiv", "i32.mod", "i32.neg", "float.to_f32", "f32.to_float", "int.to_i32", "i32.to_int",
                   "f32.f32", "i32.i32"}

#: the guard and the run of a loop nest split across cores (noodle.ir.passes.parallel)
PARALLEL_BUILTINS = ("parallel.worth", "parallel.disjoint", "parallel.run")

#: the guard and the BLAS calls of a recognised contraction (noodle.ir.intents.contraction), and
#: the LAPACK call of a recognised factorisation (noodle.ir.intents.factorisation)
BLAS_BUILTINS = ("blas.fits", "blas.gemm", "blas.gemm_rows", "blas.gemm_batch", "blas.symm", "blas.gemv", "blas.ger", "blas.syrk", "blas.syr2k", "blas.trmm",
                 "blas.trsv", "blas.diagonal_nonzero", "lapack.potrf")

#: the scalar kinds native code holds in registers
SCALAR_KINDS = ("int", "float", "bool", "f32", "i32")


class Unsupported(Exception):
    """Why a function stays in the VM."""

    def __init__(self, reason: str, line: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def scalar(t: object) -> str | None:
    t = prune(t)  # type: ignore[arg-type]
    return {INT: "int", FLOAT: "float", BOOL: "bool", NONE: "none", F32: "f32", I32: "i32"}.get(t)  # type: ignore[call-overload]


def result_kinds(t: object) -> list[str] | None:
    """The scalar kinds a function returns: [] for none, one kind, or several for an outlined loop's tuple."""
    t = prune(t)  # type: ignore[arg-type]
    if isinstance(t, TupleT):
        kinds = [scalar(x) for x in t.items]
        return kinds if all(k in SCALAR_KINDS for k in kinds) else None  # type: ignore[misc]
    k = scalar(t)
    if k is None:
        return None
    return [] if k == "none" else [k]


# ---------------------------------------------------------------- eligibility

def unsupported_reason(f: ir.Function) -> Unsupported | None:
    """None when `f` can be lowered (callees aside), else why not."""
    if f.kind != "fn":
        return Unsupported(f"a {f.kind} runs in the VM", f.line)
    if "no_optimize" in f.attributes:
        return Unsupported("@no_optimize keeps it in the VM", f.line)
    for slot, (name, t) in enumerate(zip(f.local_names, f.local_types)):
        if array_kind(t) is not None:
            continue  # a parameter: read through its data pointer; a local: see _check_array_local
        if scalar(t) not in SCALAR_KINDS:
            return Unsupported(f"`{name}` is not an int, float, i32, f32, bool or an Array of them", f.line)
    if result_kinds(f.ret) is None:
        return Unsupported("its result is not an int, float, i32, f32, bool or none", f.line)
    try:
        for s in f.body:
            check_stmt(s, f.params)
    except Unsupported as e:
        return e
    depth, line = _deepest_expression(f)
    if depth > MAX_NATIVE_EXPR_DEPTH:
        # a flat chain `a + b + ... + z` of a thousand terms is a thousand checked operations, each
        # with its overflow branch: LLVM's optimiser takes minutes over it; the VM runs it at once
        return Unsupported(f"an expression {depth} operations deep (native code takes at most "
                           f"{MAX_NATIVE_EXPR_DEPTH})", line)
    return None


#: the deepest expression tree a native function may hold (see _deepest_expression)
MAX_NATIVE_EXPR_DEPTH = 256
_STATEMENTS = typing.get_args(ir.Stmt)


def _deepest_expression(f: ir.Function) -> tuple[int, int]:
    """(the depth of `f`'s deepest expression tree, the line of its statement); iterative."""
    from noodle.ir.walk import children

    best, line = 0, f.line
    stack: list[tuple[ir.Node, int, int]] = [(s, 0, s.line or f.line) for s in f.body]
    while stack:
        node, d, at = stack.pop()
        if isinstance(node, _STATEMENTS):
            d, at = 0, node.line or at  # a statement starts a new expression tree
        elif d > best:
            best, line = d, at
        stack.extend((c, d + 1, at) for c in children(node))
    return best, line


def check_stmt(s: ir.Stmt, params: int = 0) -> None:
    """Raise Unsupported unless native code can run statement `s` (of a function with `params` parameters)."""
    if isinstance(s, ir.LocalSet):
        if array_kind(s.value.ty) is not None:
            _check_array_local(s, params)
            return
        _check_expr(s.value)
    elif isinstance(s, ir.ExprStmt):
        _check_expr(s.expr)
    elif isinstance(s, ir.If) and s.intent and variants.chosen_in_vm(s.intent):
        for x in s.otherwise:  # native code runs an intent's loops; its library variant is the VM's
            check_stmt(x, params)
    elif isinstance(s, ir.If):
        _check_expr(s.cond)
        for x in s.then + s.otherwise:
            check_stmt(x, params)
    elif isinstance(s, ir.While):
        _check_expr(s.cond)
        for x in s.body:
            check_stmt(x, params)
    elif isinstance(s, ir.ForRange):
        last = inclusive_stop(s)
        if last is not None and not (isinstance(s.step, ir.Const) and s.step.value == 1):
            raise Unsupported("an inclusive range with a step runs in the VM", s.line)  # `a..=b` has none
        _check_expr(s.start)
        _check_expr(last or s.stop)
        _check_expr(s.step)
        for x in s.body:
            check_stmt(x, params)
    elif isinstance(s, ir.Return):
        if isinstance(s.value, ir.TupleLit):  # an outlined loop hands back the variables it changed
            for x in s.value.items:
                _check_expr(x)
        elif s.value is not None:
            _check_expr(s.value)
    elif not isinstance(s, (ir.Break, ir.Continue)):
        raise Unsupported(_what(s) + " runs in the VM", s.line)


def _check_array_local(s: ir.LocalSet, params: int) -> None:
    """`let z = zeros(n)` (or ones, full) in a native function: a new Array in a local of its own."""
    value = s.value
    if s.slot < params:
        raise Unsupported("assigning to an Array parameter runs in the VM", s.line)
    if not (isinstance(value, ir.CallBuiltin) and value.name in ARRAY_MAKERS):
        raise Unsupported("an Array local that is not made by zeros, ones or full runs in the VM", s.line)
    for a in value.args:
        _check_expr(a)


def inclusive_stop(s: ir.ForRange) -> "ir.Expr | None":
    """b of `for i in a..=b` (the loop's stop is `range.incl_stop(b)`: b + 1 without overflow), else None."""
    stop = s.stop
    if isinstance(stop, ir.CallBuiltin) and stop.name == "range.incl_stop" and len(stop.args) == 1:
        return stop.args[0]
    return None


def array_kind(t: object) -> str | None:
    """`ELEM/N` (`float/1`, `i32/3`) for an Array native code can take — int, float, i32 or f32, of
    any number of dimensions — else None."""
    t = prune(t)  # type: ignore[arg-type]
    if isinstance(t, ArrayT) and t.ndim >= 1 and t.elem in (INT, FLOAT, F32, I32):
        return f"{t.elem}/{t.ndim}"
    return None


def writes_arrays(f: ir.Function) -> bool:
    """Does `f` store into an Array it was given?  (Then it is not pure: a failed native call cannot be
    re-run.)  Stores into the function's own Arrays (see ARRAY_MAKERS) do not count: a new call makes
    them anew."""
    from noodle.ir.walk import walk

    return any(isinstance(n, ir.CallBuiltin) and n.name == "array.set"
               and not (isinstance(n.args[0], ir.LocalGet) and n.args[0].slot >= f.params)
               for s in f.body for n in walk(s))


def impure_functions(module: ir.Module) -> set[str]:
    """The functions that store into an Array they were given, themselves or through a function they
    call: a failed native call of one cannot be re-run in the VM (the stores would happen twice)."""
    fns = {f.name: f for f in module.functions if f.kind == "fn"}
    impure = {name for name, f in fns.items() if writes_arrays(f)}
    changed = True
    while changed:
        changed = False
        for name, f in fns.items():
            if name not in impure and _callees(f) & impure:
                impure.add(name)
                changed = True
    return impure


def _array_param(e: ir.Expr) -> bool:
    return isinstance(e, ir.LocalGet) and array_kind(e.ty) is not None


def shape_item(e: ir.Expr) -> "tuple[int, int] | None":
    """(array slot, dimension) for `a.shape[k]` with a constant k, on an Array parameter."""
    if isinstance(e, ir.Index) and isinstance(e.obj, ir.CallBuiltin) and e.obj.name == "array.shape" \
            and _array_param(e.obj.args[0]) and isinstance(e.index, ir.Const) and type(e.index.value) is int:
        ndim = prune(e.obj.args[0].ty).ndim  # type: ignore[union-attr]
        if 0 <= e.index.value < ndim:
            return e.obj.args[0].slot, e.index.value  # type: ignore[union-attr]
    return None


def _check_expr(e: ir.Expr) -> None:
    if isinstance(e, ir.CallBuiltin) and e.name.startswith("py."):
        # a call into Python needs the interpreter: the function stays in the VM (the rest of the
        # program may still run natively)
        raise Unsupported("it calls into Python (`import py`), so it stays in the VM", e.line)
    if shape_item(e) is not None:
        return
    if isinstance(e, ir.CallBuiltin) and e.name in ("array.get", "array.len", "array.set") and e.args \
            and _array_param(e.args[0]):
        ndim = prune(e.args[0].ty).ndim  # type: ignore[union-attr]
        if e.name != "array.len" and len(e.args) != (1 + ndim if e.name == "array.get" else 2 + ndim):
            raise Unsupported("taking a row of an Array runs in the VM", e.line)
        for a in e.args[1:]:
            _check_expr(a)
        return
    if scalar(e.ty) not in SCALAR_KINDS + ("none",):
        raise Unsupported(f"a value of type {prune(e.ty)} runs in the VM", e.line)
    if isinstance(e, (ir.Const, ir.LocalGet)):
        return
    if isinstance(e, ir.Unary):
        if e.op not in ("int.neg", "float.neg", "not", "int.to_float"):
            raise Unsupported(f"`{e.op}` runs in the VM", e.line)
        _check_expr(e.x)
        return
    if isinstance(e, ir.Binary):
        if e.op in ("int.shl", "int.shr", "int.pow", "float.pow") or not (
                e.op.startswith(("int.", "float.", "cmp."))):
            raise Unsupported(f"`{e.op}` runs in the VM", e.line)
        if e.op.startswith("cmp.") and scalar(e.a.ty) not in SCALAR_KINDS:
            raise Unsupported("comparing non-numbers runs in the VM", e.line)
        _check_expr(e.a)
        _check_expr(e.b)
        return
    if isinstance(e, ir.Logical):
        _check_expr(e.a)
        _check_expr(e.b)
        return
    if isinstance(e, ir.Cond):
        for x in (e.cond, e.then, e.otherwise):
            _check_expr(x)
        return
    if isinstance(e, ir.CallBuiltin) and e.name in BLAS_BUILTINS:  # noodle.ir.intents.contraction
        for k, a in enumerate(e.args):
            if not (_array_param(a) or k == 0 and isinstance(a, ir.Const)):
                _check_expr(a)
        return
    if library_dot(e):  # `dot` of two float Arrays: the BLAS ddot NumPy calls (noodle.backends.llvm.blas)
        return
    if isinstance(e, ir.CallBuiltin) and e.name in PARALLEL_BUILTINS:  # noodle.ir.passes.parallel
        for a in e.args:
            if not (_array_param(a) or isinstance(a, ir.FuncRef)):
                _check_expr(a)
        return
    if isinstance(e, ir.Call):
        for a in e.args:
            if not _array_param(a):  # Arrays pass by reference between native functions
                _check_expr(a)
        return
    if isinstance(e, ir.CallBuiltin) and e.name in NATIVE_BUILTINS:
        for a in e.args:
            _check_expr(a)
        return
    if isinstance(e, ir.CallBuiltin) and e.name == "math.hypot":
        raise Unsupported("calling `math.hypot` runs in the VM: CPython computes it by an algorithm of its own, "
                          "which the C library's hypot does not match to the last bit", e.line)
    raise Unsupported(_what(e) + " runs in the VM", e.line)


def library_dot(e: ir.Expr) -> bool:
    """Is `e` `dot(x, y)` of two 1-D float Arrays the function holds, which native code computes by
    calling the library's ddot as NumPy does (so with NumPy's bits)?  An int dot (checked for
    overflow) stays in the VM."""
    return (isinstance(e, ir.CallBuiltin) and e.name == "array.dot" and len(e.args) == 2
            and all(_array_param(a) and array_kind(a.ty) == "float/1" for a in e.args))


def _library_calls(f: ir.Function) -> bool:
    """Does `f` call a library routine from native code (see `library_dot`)?  Worth a native function
    even without a loop: its call costs less than the VM's call of the library through Python."""
    from noodle.ir.walk import walk

    return any(isinstance(n, ir.CallBuiltin) and library_dot(n) for s in f.body for n in walk(s))


def _what(node: ir.Node) -> str:
    if isinstance(node, ir.CallBuiltin):
        return f"calling `{node.name}`"
    if isinstance(node, (ir.GlobalGet, ir.GlobalSet)):
        return "a module variable"
    return {"ForEach": "a `for` over a collection", "TryCatch": "try/catch", "Throw": "throw",
            "Assert": "assert", "CallValue": "calling a function value", "CallMod": "calling another module",
            "Interp": "string interpolation"}.get(type(node).__name__, f"`{type(node).__name__}`")


@dataclass
class Plan:
    """Which functions of a module run natively, and why the others do not."""

    native: list[str] = field(default_factory=list)  # chosen: replace the VM's function
    compiled: list[str] = field(default_factory=list)  # lowered (chosen, and what they call)
    reasons: dict[str, str] = field(default_factory=dict)  # function -> why it stays in the VM


def plan(module: ir.Module) -> Plan:
    """Choose the functions worth running natively: lowerable, and looping or recursive."""
    fns = {f.name: f for f in module.functions if f.kind == "fn"}
    out = Plan()
    ok: dict[str, ir.Function] = {}
    for name, f in fns.items():
        why = unsupported_reason(f)
        if why is None:
            ok[name] = f
        else:
            out.reasons[name] = f"line {why.line}: {why.reason}" if why.line else why.reason
    changed = True
    while changed:  # a function calling one that stays in the VM stays too
        changed = False
        for name, f in list(ok.items()):
            for callee in _callees(f):
                if callee not in ok:
                    out.reasons[name] = f"calls `{callee}`, which runs in the VM"
                    del ok[name]
                    changed = True
                    break
    for name, f in ok.items():
        if (guard := intent_guard(f)) is not None:
            # calls from the VM choose between the variants (the guard is a VM native); calls from
            # native code take the loops, compiled when a native function calls this one
            out.reasons[name] = (f"line {guard.line}: it chooses between the variants of a recognised "
                                 f"{variants.name(guard.intent)} (the guard and the library call run in "
                                 "the VM; native callers run its loops)")
        elif name.startswith("__chunk_"):  # noodle.ir.passes.parallel: only its nest's threads call it
            out.reasons[name] = "a chunk of a nest split across cores: compiled for the nest that runs it"
        elif _loops(f.body) or _recursive(name, ok) or _splits(f) or _library_calls(f):
            out.native.append(name)
        else:
            out.reasons[name] = "no loop or recursion: a native call would cost more than it saves"
    needed: set[str] = set()
    stack = list(out.native)
    while stack:
        n = stack.pop()
        if n not in needed:
            needed.add(n)
            stack.extend(_callees(ok[n]))
    out.compiled = [n for n in ok if n in needed]
    return out


def exclude(module: ir.Module, p: Plan, name: str, reason: str) -> Plan:
    """`p` without `name` (the backend could not lower it: `reason`), nor the functions that call it,
    directly or not: each of those stays in the VM with the reason why; the rest stays native."""
    fns = {f.name: f for f in module.functions if f.kind == "fn"}
    gone = {name}
    changed = True
    while changed:  # a caller of a function that stays in the VM stays too
        changed = False
        for n in p.compiled:
            if n not in gone and _callees(fns[n]) & gone:
                gone.add(n)
                changed = True
    out = Plan(reasons=dict(p.reasons))
    out.reasons[name] = reason
    for n in gone - {name}:
        if n in p.native:
            out.reasons[n] = f"calls `{name}`, which native code could not take"
    out.native = [n for n in p.native if n not in gone]
    needed = reachable(module, out.native)
    out.compiled = [n for n in p.compiled if n in needed]
    return out


def reachable(module: ir.Module, roots: list[str]) -> set[str]:
    """`roots` and every function they call, directly or not (what native code for them must compile)."""
    fns = {f.name: f for f in module.functions if f.kind == "fn"}
    needed: set[str] = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n not in needed and n in fns:
            needed.add(n)
            stack.extend(_callees(fns[n]))
    return needed


def intent_guard(f: ir.Function) -> "ir.If | None":
    """The first intent dispatch (see noodle.ir.passes.intents) in `f` that chooses in the VM, if any."""
    from noodle.ir.walk import walk

    return next((n for s in f.body for n in walk(s)
                 if isinstance(n, ir.If) and n.intent and variants.chosen_in_vm(n.intent)), None)


def _callees(f: ir.Function) -> set[str]:
    from noodle.ir.walk import walk

    return {n.func for s in f.body for n in walk(s) if isinstance(n, ir.Call)} | {
        n.args[0].name for s in f.body for n in walk(s)  # type: ignore[union-attr]
        if isinstance(n, ir.CallBuiltin) and n.name == "parallel.run"}


def _splits(f: ir.Function) -> bool:
    """Does `f` run a nest split across cores (its loop lives in the chunk it calls)?"""
    from noodle.ir.walk import walk

    return any(isinstance(n, ir.CallBuiltin) and n.name == "parallel.run" for s in f.body for n in walk(s))


def _loops(body: list[ir.Stmt]) -> bool:
    from noodle.ir.walk import walk

    return any(isinstance(n, (ir.While, ir.ForRange)) for s in body for n in walk(s))


def _recursive(name: str, fns: dict[str, ir.Function]) -> bool:
    seen: set[str] = set()
    stack = list(_callees(fns[name]))
    while stack:
        n = stack.pop()
        if n == name:
            return True
        if n in seen or n not in fns:
            continue
        seen.add(n)
        stack.extend(_callees(fns[n]))
    return False


def float_reductions(body: list[ir.Stmt]) -> set[int]:
    """The float sums of a loop body: `s = s + e` where `s` is touched nowhere else in the loop.

    The reduction intent: such a sum's value does not depend on the order of its additions beyond
    float rounding, which the contract allows for recognised reductions, so LLVM may vectorise it.
    """
    from noodle.ir.walk import walk

    uses: dict[int, int] = {}
    candidates: list[ir.LocalSet] = []
    for st in body:
        for n in walk(st):
            if isinstance(n, (ir.LocalGet, ir.LocalSet, ir.ForRange)):
                uses[n.slot] = uses.get(n.slot, 0) + 1
    for st in body:
        if isinstance(st, ir.LocalSet) and scalar(st.value.ty) == "float" and isinstance(st.value, ir.Binary) \
                and st.value.op == "float.add":
            a, c = st.value.a, st.value.b
            if any(isinstance(x, ir.LocalGet) and x.slot == st.slot for x in (a, c)):
                candidates.append(st)
    return {id(st) for st in candidates if uses.get(st.slot) == 2}


def assigns(body: list[ir.Stmt], slot: int) -> bool:
    """Does `body` store into `slot` (an assignment, or a loop using it as its variable)?"""
    from noodle.ir.walk import walk

    return any(isinstance(n, (ir.LocalSet, ir.ForRange)) and n.slot == slot for st in body for n in walk(st))


class Access(NamedTuple):
    """An array access a loop's bounds-check-free version may make: per dimension, the index and
    its direction: 1 (the index is `j + r`, j the loop variable, r an int the loop does not change),
    -1 (`r - j`: the loop walks the dimension backwards) or None (the loop does not change it)."""
    node: ir.CallBuiltin
    forms: list[tuple[ir.Expr, int | None]]


def in_bounds_accesses(s: ir.ForRange) -> "list[Access]":
    """The array reads and writes in loop `s` whose every index is `j + r`, `r - j` (j the loop
    variable, r an int built by `+`/`-` from constants and locals the loop does not change) or such
    an r itself: `x[j + c]`, `x[r, j + c]`, `x[j, r]`, `x[k - j - 1]`, `x[r1, j + c, r2]`, `x[r]` ...

    Whether every such index stays in bounds for the whole range can be decided before the loop
    runs (the first and the last value of j bound it); the native backend then runs a copy of the
    loop without those checks (`for_range` in lower.py).  Empty unless every access in the loop has
    that form: a copy that still checks some indices rarely vectorises, and each copy costs compile
    time.  An array the loop assigns anew (a local one) changes shape under it: then empty too.
    """
    from noodle.ir.walk import walk

    if not (isinstance(s.step, ir.Const) and s.step.value == 1) or assigns(s.body, s.slot):
        return []
    out = []
    for node in (n for st in s.body for n in walk(st)):
        if not (isinstance(node, ir.CallBuiltin) and node.name in ("array.get", "array.set")):
            continue
        kind = array_kind(node.args[0].ty)
        if kind is None or not isinstance(node.args[0], ir.LocalGet) or assigns(s.body, node.args[0].slot):
            return []
        ndim = int(kind.split("/")[1])
        forms: list[tuple[ir.Expr, int | None]] = []
        for index in node.args[1:1 + ndim]:
            coefficient = _coefficient(index, s)
            if coefficient not in (1, -1, 0):
                return []
            forms.append((index, coefficient or None))
        out.append(Access(node, forms))
    return out


def _coefficient(e: ir.Expr, s: ir.ForRange) -> int | None:
    """a for an index `a * j + r` built by `+`/`-` (j the variable of loop `s`, r from constants and
    locals the loop does not change; 0 when j does not occur), else None."""
    if isinstance(e, ir.LocalGet) and e.slot == s.slot:
        return 1
    if _invariant(e, s):
        return 0
    if isinstance(e, ir.Binary) and e.op in ("int.add", "int.sub"):
        a, b = _coefficient(e.a, s), _coefficient(e.b, s)
        if a is None or b is None:
            return None
        return a + b if e.op == "int.add" else a - b
    return None


def _invariant(e: ir.Expr, s: ir.ForRange) -> bool:
    """Is `e` an int built from constants and locals by `+`/`-`, none of them changed by loop `s`?"""
    if isinstance(e, ir.Const):
        return type(e.value) is int
    if isinstance(e, ir.LocalGet):
        return scalar(e.ty) == "int" and e.slot != s.slot and not assigns(s.body, e.slot)
    return isinstance(e, ir.Binary) and e.op in ("int.add", "int.sub") and _invariant(e.a, s) \
        and _invariant(e.b, s)
