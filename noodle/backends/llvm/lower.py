"""Typed IR → LLVM IR for whole scalar functions (the first native variant).

A function qualifies when every local, parameter and result is `int`, `float`,
`bool`, `i32` or `f32` (or the result is `none`), and its body uses only what this module
lowers: locals, `if`, `while`, counting `for`, `break`/`continue`/`return`,
int and float arithmetic and comparisons, calls to other qualifying
functions (recursion included), and a few natives (`abs`, `min`, `max`,
`int(float)`, `math.sqrt/sin/cos/exp/log/fabs`).  Anything else keeps the
function in the VM, and the reason is recorded for `noodlec --explain`.

Semantics are the VM's, exactly: int overflow raises (LLVM's
`sadd/ssub/smul.with.overflow`, skipped where the `ranges` pass proved the
bound), `//` and `%` floor as in Python for ints and floats, division by
zero raises, float operations carry no fast-math flags.  Each native
function returns a status (0, or the error below) and writes its result
through a pointer; callers propagate a non-zero status.  Every function
takes its call depth and its VM's context (noodle.backends.llvm.stop) as
last arguments (no global state, so native code runs in several threads and
several VMs at once): runaway recursion becomes `RecursionError` (or the
depth limit) instead of a crashed process, and the context's stop flag, step
budget and memory budget are polled and charged.
"""
from __future__ import annotations

from llvmlite import ir as L

from noodle.backends.llvm import blas, local_arrays, mathlib, vecmath
from noodle.ir import nodes as ir
from noodle.ir import variants
from noodle.ir.native_plan import (MATH_BUILTINS, PARALLEL_BUILTINS, Access, Plan, Unsupported, _what,  # noqa: F401
                                   array_kind, assigns, float_reductions, in_bounds_accesses, inclusive_stop, plan,
                                   result_kinds, scalar, shape_item, unsupported_reason)

I1, I8, I32, I64, F64, F32 = L.IntType(1), L.IntType(8), L.IntType(32), L.IntType(64), L.DoubleType(), L.FloatType()
MIN, MAX = -(2**63), 2**63 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1

#: status codes a native function returns (0 is success), and the Noodle error each stands for
STATUS = {"OverflowError": 1, "ZeroDivisionError": 2, "RecursionError": 3, "RangeStep": 4, "MathDomain": 5,
          "FloatOverflow": 6, "NanToInt": 7, "IndexError": 8, "Stopped": 9}
ERRORS = {1: ("OverflowError", "integer overflow"), 2: ("ZeroDivisionError", "division by zero"),
          3: ("RecursionError", "recursion depth exceeded"), 4: ("ValueError", "range step must not be zero"),
          5: ("ValueError", "math domain error"), 6: ("OverflowError", "float overflow in exp"),
          7: ("ValueError", "cannot convert nan to int"), 8: ("IndexError", "index out of range"),
          9: ("Stopped", "native code was asked to stop")}
#: the status of a native call that stopped: its context's stop flag was set, or its steps ran out
STOPPED = STATUS["Stopped"]
#: how deep `span` looks into an int expression for the loop bounds that keep it in range
SPAN_DEPTH = 16
#: the status of a call deeper than its context's `max_depth` (the depth limit, or RecursionError)
TOO_DEEP = STATUS["RecursionError"]
#: iterations of an innermost counted loop between two polls of the stop flag (the loop runs in
#: strips of this many, each a plain counted loop LLVM can still vectorise)
STRIP = 1 << 14
# the math module's errors name the function (mathlib); an Array local's, the dimension or the memory
STATUS |= mathlib.STATUS | local_arrays.STATUS | blas.STATUS
ERRORS |= mathlib.ERRORS | local_arrays.ERRORS | blas.ERRORS
#: deepest native recursion before RecursionError (about the VM's depth: MAX_DEPTH plus its slack)
MAX_NATIVE_DEPTH = 10_150
#: a status is `code | line << 8`: lines past this one are reported as this one
LINE_LIMIT = (1 << 23) - 1

_SCALARS = {"int": I64, "float": F64, "bool": I1, "i32": I32, "f32": F32}
_FLOATS = (F64, F32)


# ---------------------------------------------------------------- lowering

#: the context every native function is handed (noodle.backends.llvm.stop.Context, seven i64 fields)
CTX = L.LiteralStructType([I64] * 11)
CTX_PTR = L.PointerType(CTX)
CTX_STOP, CTX_STEPS, CTX_RESERVE, CTX_MEMORY, CTX_MAX_DEPTH, CTX_DEPTH, CTX_THREADS = range(7)
#: a Python signal handler waits to run; where the exception it raised is kept (stop.Context)
CTX_SIGNAL, CTX_EXC = 7, (8, 9, 10)
#: steps the hot path counts down before the slow path (`nd_refill`) looks at the stop flag and
#: takes the next ones from the reserve: the stop flag is seen within this many steps
CHUNK = 1 << 16
#: the function every poll calls when its chunk of steps is used up (one per LLVM module)
REFILL = "nd_refill"
#: the address of the context the Python entries (noodle.backends.llvm.pyentry) run under: the
#: machine's, without limits, set when the module is linked
CONTEXT_GLOBAL = "nd_context"


def context_global(m: L.Module) -> L.GlobalVariable:
    g = m.globals.get(CONTEXT_GLOBAL)
    if g is None:
        g = L.GlobalVariable(m, I64, name=CONTEXT_GLOBAL)
        g.initializer = L.Constant(I64, 0)
    return g


#: what `poll` emits: "all" (the step budget, the stop flag when a chunk is used up), or, for
#: bench/native.py only, which measures what polling costs, "stop" (a load of the flag and a branch
#: at each poll, as native code polled before it counted steps) or "none" — code that cannot be stopped
POLLING = "all"


def _has_loop(body: list[ir.Stmt]) -> bool:
    from noodle.ir.walk import walk

    return any(isinstance(n, (ir.While, ir.ForRange)) for st in body for n in walk(st))


#: the suffix of a native function's Python entry point (noodle.backends.llvm.pyentry)
PY_ENTRY = "_py"


def symbol(name: str) -> str:
    """The exported entry point of a native function (the one the VM calls through ctypes)."""
    return "nd_" + name.replace("_", "_u").replace(".", "_d")


def _param_types(f: ir.Function) -> list[L.Type]:
    """A scalar parameter is one argument; a 1-D Array is three: data pointer, length, stride (in elements)."""
    out: list[L.Type] = []
    for t in f.local_types[: f.params]:
        kind = array_kind(t)
        if kind is not None:  # data pointer, then each dimension's length, then each stride (in elements)
            elem, ndim = kind.split("/")
            out += [L.PointerType(_SCALARS[elem])] + [I64] * (2 * int(ndim))
        else:
            out.append(_SCALARS[scalar(t)])  # type: ignore[index]
    return out


def _internal_type(f: ir.Function) -> L.FunctionType:
    """Native-to-native calling convention: `(ctx*, params..., i64 calls left, i64 steps)`, and the
    results, the status and the steps left come back in registers, `{results..., i32, i64}` — the
    step counter never lives in memory on the hot path (a counter in memory would chain every call
    and iteration through a store and a load).  The context comes first so that it arrives in a
    register no result leaves in: a path that calls nothing (a recursion's base case) leaves it
    where it is, rather than moving it to a callee-saved register, which costs that path the
    saving and restoring of registers it does not use."""
    params = _param_types(f)
    kinds = result_kinds(f.ret) or []
    ret = L.LiteralStructType([_SCALARS[k] for k in kinds] + [I32, I64])
    return L.FunctionType(ret, [CTX_PTR] + params + [I64, I64])


def status_of(r: L.Value) -> int:
    """The index of the status in an internal function's result (the steps left follow it)."""
    return len(r.type.elements) - 2


_REFILLED = L.LiteralStructType([I64, I1])


def _refill(m: L.Module) -> L.Function:
    """`{i64, i1} nd_refill(ctx, i64 steps)`: the chunk of steps is used up (`steps` < 0).  Stop
    (the i1) when the stop flag is set or the reserve cannot cover what was overdrawn (then the
    reserve is spent and the steps left are what was overdrawn); else the next chunk.  Without a
    step limit (`threads` set) nothing shared is written: the threads of a split nest call it too."""
    existing = m.globals.get(REFILL)
    if existing is not None:
        return existing
    fn = L.Function(m, L.FunctionType(_REFILLED, [CTX_PTR, I64]), name=REFILL)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("cold")
    entry, check, limited, grant, spent, stop = (fn.append_basic_block(n) for n in (
        "entry", "check", "limited", "grant", "spent", "stop"))
    b = L.IRBuilder(entry)
    ctx, steps = fn.args
    chunk = L.Constant(I64, CHUNK)

    def answer(value: L.Value, stopped: int) -> None:
        b.ret(b.insert_value(b.insert_value(L.Constant(_REFILLED, None), value, 0), L.Constant(I1, stopped), 1))
    flag = b.load_atomic(ctx_field(b, ctx, CTX_STOP), "monotonic", 8)
    signals, handlers = fn.append_basic_block("signals"), fn.append_basic_block("handlers")
    b.cbranch(b.icmp_signed("!=", flag, L.Constant(I64, 0)), stop, signals)
    b.position_at_end(signals)
    pending = b.load_atomic(ctx_field(b, ctx, CTX_SIGNAL), "monotonic", 8)
    b.cbranch(b.icmp_signed("!=", pending, L.Constant(I64, 0)), handlers, check)
    b.position_at_end(handlers)
    from noodle.backends.llvm.pyentry import run_signal_handlers

    raised = run_signal_handlers(fn.module, b, ctx_field(b, ctx, CTX_SIGNAL), [ctx_field(b, ctx, k) for k in CTX_EXC])
    b.cbranch(raised, stop, check)
    b.position_at_end(check)
    unlimited = b.icmp_signed("!=", b.load(ctx_field(b, ctx, CTX_THREADS)), L.Constant(I64, 0))
    b.cbranch(unlimited, grant, limited)
    b.position_at_end(grant)
    answer(chunk, 0)
    b.position_at_end(limited)
    reserve = ctx_field(b, ctx, CTX_RESERVE)
    total = b.add(b.load(reserve), steps)  # what is left of the budget (overdrawn: below 0)
    more = fn.append_basic_block("more")
    b.cbranch(b.icmp_signed("<", total, L.Constant(I64, 0)), spent, more)
    b.position_at_end(more)
    granted = b.select(b.icmp_signed("<", total, chunk), total, chunk)
    b.store(b.sub(total, granted), reserve)
    answer(granted, 0)
    b.position_at_end(spent)
    b.store(L.Constant(I64, 0), reserve)
    answer(total, 1)
    b.position_at_end(stop)
    answer(steps, 1)
    return fn


def charge_call(b: L.IRBuilder, ctx: L.Value, steps: L.Value) -> tuple[L.Value, L.Value]:
    """Charge the step of a call into native code from outside it (an entry point): `steps` less
    one, refilled when that uses the chunk up.  Returns (the steps the call starts with, i1
    stopped: the budget is spent or the stop flag set — the call must not run)."""
    fn = b.block.function
    now = b.sub(steps, L.Constant(I64, 1))
    here, slow, charged = b.block, fn.append_basic_block("refill"), fn.append_basic_block("charged")
    b.cbranch(b.icmp_signed("<", now, L.Constant(I64, 0)), slow, charged)
    b.position_at_end(slow)
    refilled = b.call(_refill(fn.module), [ctx, now])
    granted, refused = b.extract_value(refilled, 0), b.extract_value(refilled, 1)
    b.branch(charged)
    b.position_at_end(charged)
    left = b.phi(I64)
    left.add_incoming(now, here)
    left.add_incoming(granted, slow)
    stopped = b.phi(I1)
    stopped.add_incoming(L.Constant(I1, 0), here)
    stopped.add_incoming(refused, slow)
    return left, stopped


def ctx_field(b: L.IRBuilder, ctx: L.Value, field: int) -> L.Value:
    """The address of one field of a context."""
    return b.gep(ctx, [L.Constant(I32, 0), L.Constant(I32, field)], inbounds=True)


def build_module(module: ir.Module, names: list[str], entries: list[str] | None = None) -> L.Module:
    """An LLVM module with the named functions of `module` (all lowerable, callees included).

    Each function is internal (so LLVM may inline and specialise it); those in `entries` also get
    an exported entry point `i32 symbol(params..., i64 depth, results*...)` for ctypes.
    """
    m = L.Module(name=f"noodle.{module.name}")
    fns = {f.name: f for f in module.functions}
    decls: dict[str, L.Function] = {}
    for name in names:
        fn = L.Function(m, _internal_type(fns[name]), name=symbol(name) + "_impl")
        fn.linkage = "internal"
        decls[name] = fn
    for name in names:
        try:
            _FunctionLowering(m, decls, fns[name]).lower()
        except Exception as e:  # noqa: BLE001 - a lowering bug costs its function, not the module
            raise LoweringFailed(name, e) from e
    for name in entries if entries is not None else names:
        _entry_point(m, decls[name], fns[name])
    return m


class LoweringFailed(Exception):
    """The lowering of one function failed (a case it does not handle): that function stays in the VM."""

    def __init__(self, name: str, error: BaseException) -> None:
        self.name = name
        self.reason = error.reason if isinstance(error, Unsupported) else f"{type(error).__name__}: {error}"
        super().__init__(f"{name}: {self.reason}")


def _entry_point(m: L.Module, impl: L.Function, f: ir.Function) -> None:
    """The entry points of a native function: `symbol` for ctypes, `i32 symbol(params..., i64
    context address, results*...)` (the call depth and the steps come from the context, and the
    steps left go back to it), and `symbol_py`, which takes the Python objects
    (noodle.backends.llvm.pyentry)."""
    from noodle.backends.llvm import pyentry

    kinds = result_kinds(f.ret) or []
    param_kinds = [f"array:{array_kind(t)}" if array_kind(t) else scalar(t) for t in f.local_types[: f.params]]
    pyentry.lower_entry(m, impl, symbol(f.name) + PY_ENTRY, param_kinds, kinds)  # type: ignore[arg-type]
    outs = [L.PointerType(_SCALARS[k] if k != "bool" else I8) for k in kinds]
    params = list(impl.function_type.args[1:-2])
    n = len(params)
    fn = L.Function(m, L.FunctionType(I32, params + [I64] + outs), name=symbol(f.name))
    b = L.IRBuilder(fn.append_basic_block("entry"))
    ctx = b.inttoptr(fn.args[n], CTX_PTR)
    # the calls left before the depth limit (or the deepest native recursion)
    left = b.sub(b.load(ctx_field(b, ctx, CTX_MAX_DEPTH)), b.load(ctx_field(b, ctx, CTX_DEPTH)))
    steps = ctx_field(b, ctx, CTX_STEPS)
    budget, stopped = charge_call(b, ctx, b.load(steps))
    # the steps left go back to a context with a step limit (one thread's); without one the
    # context is shared by threads and keeps its chunk
    limited = b.icmp_signed("==", b.load(ctx_field(b, ctx, CTX_THREADS)), L.Constant(I64, 0))
    with b.if_then(stopped, likely=False):
        with b.if_then(limited):
            b.store(budget, steps)
        b.ret(L.Constant(I32, STOPPED | (min(f.line, LINE_LIMIT) << 8)))
    r = b.call(impl, [ctx] + list(fn.args[:n]) + [left, budget])
    with b.if_then(limited):
        b.store(b.extract_value(r, len(kinds) + 1), steps)
    for k, (kind, ptr) in enumerate(zip(kinds, fn.args[n + 1:])):
        v = b.extract_value(r, k)
        b.store(b.zext(v, I8) if kind == "bool" else v, ptr)
    b.ret(b.extract_value(r, len(kinds)))


class _Loop:
    def __init__(self, cont: L.Block, brk: L.Block,
                 strip: "tuple[L.Value, L.Value, bool, bool] | None" = None) -> None:
        self.cont, self.brk = cont, brk
        #: an innermost loop charged ahead: (counter slot, the strip's end, counting up?, end
        #: inclusive?); its iterations were charged before they ran, so leaving early gives the
        #: rest back
        self.strip = strip


class _FunctionLowering:
    def __init__(self, m: L.Module, decls: dict[str, L.Function], f: ir.Function) -> None:
        self.m, self.decls, self.f = m, decls, f
        self.fn = decls[f.name]
        self.loops: list[_Loop] = []
        self._cold: L.MDValue | None = None
        self.line = f.line  # of the statement being lowered
        #: `@vector_math`: math calls through symbols that may get vector variants (vecmath)
        self.vector_math = "vector_math" in f.attributes
        #: in a loop whose math checks wait for the end of its strip: (flag, kind, line) per check
        self.deferred: "list[tuple[L.Value, str, int]] | None" = None

    def intrinsic(self, name: str, ret: L.Type, args: list[L.Type]) -> L.Function:
        try:
            return self.m.get_global(name)
        except KeyError:
            return L.Function(self.m, L.FunctionType(ret, args), name=name)

    def lower(self) -> None:
        f, fn = self.f, self.fn
        entry = fn.append_basic_block("entry")
        self.exit = fn.append_basic_block("exit")
        b = self.b = L.IRBuilder(entry)
        self.status = b.alloca(I32, name="status")
        b.store(L.Constant(I32, 0), self.status)
        self.slots: list = [None if array_kind(t) is not None else b.alloca(_SCALARS[scalar(t)], name=f"v{i}")  # type: ignore[index]
                            for i, t in enumerate(f.local_types)]
        # Array parameters: data, lengths, strides as the call passed them; Array locals: their stack
        # slots (see array_parts)
        self.arrays: dict[int, "tuple[L.Value, list[L.Value], list[L.Value]] | local_arrays.LocalArray"] = {}
        self.local_arrays = local_arrays.allocate_slots(self)
        self.arrays.update(self.local_arrays)
        self.unchecked: set[int] = set()  # array accesses (ids) the enclosing loop version proved in bounds
        # loop variable -> (least, greatest) value it takes while its unit-step loop runs
        self.spans: dict[int, tuple[L.Value, L.Value]] = {}
        self.reductions: set[int] = set()  # LocalSet nodes recognised as float sums
        k = 1  # the context first
        for i in range(f.params):
            if self.slots[i] is None:
                ndim = int(array_kind(f.local_types[i]).split("/")[1])  # type: ignore[union-attr]
                self.arrays[i] = (fn.args[k], list(fn.args[k + 1:k + 1 + ndim]),
                                  list(fn.args[k + 1 + ndim:k + 1 + 2 * ndim]))
                k += 1 + 2 * ndim
            else:
                b.store(fn.args[k], self.slots[i])
                k += 1
        self.depth, self.ctx = fn.args[k], fn.args[0]
        fn.args[0].add_attribute("noalias")  # nothing else points into the context
        #: the steps left in this chunk: a stack slot LLVM keeps in a register
        self.budget = b.alloca(I64, name="steps")
        b.store(fn.args[k + 1], self.budget)
        self.kinds = result_kinds(f.ret) or []
        self.results = [b.alloca(_SCALARS[k], name=f"r{i}") for i, k in enumerate(self.kinds)]
        # call depth: a runaway recursion becomes RecursionError, not a crashed process
        # `depth` is the calls left (the context's max_depth, at most MAX_NATIVE_DEPTH, less the
        # depth at entry): a compare with 0, no load; the wrapper tells a depth limit from
        # RecursionError (the status is the same)
        self.deeper = b.sub(self.depth, L.Constant(I64, 1))
        self.fail_if(b.icmp_signed("<", self.deeper, L.Constant(I64, 0)), "RecursionError")
        # a call's step is charged by its caller, before the call (see `call`): a path through a
        # function that calls nothing and loops nowhere (the base case of a recursion) then touches
        # neither the budget nor the context, and needs no saved registers
        self.body(f.body)
        if not self.b.block.is_terminated:
            if not self.kinds:
                self.b.branch(self.exit)
            else:
                self.b.unreachable()
        xb = L.IRBuilder(self.exit)
        local_arrays.release(self, xb, self.local_arrays)
        status = xb.load(self.status)
        agg: L.Value = L.Constant(self.fn.function_type.return_type, None)
        for k, slot in enumerate(self.results):
            agg = xb.insert_value(agg, xb.load(slot), k)
        agg = xb.insert_value(agg, status, len(self.kinds))
        xb.ret(xb.insert_value(agg, xb.load(self.budget), len(self.kinds) + 1))

    def array_parts(self, slot: int) -> tuple[L.Value, list[L.Value], list[L.Value]]:
        """(data, lengths, strides) of the Array in `slot`: a parameter's, or a local's as it is now."""
        held = self.arrays[slot]
        if isinstance(held, local_arrays.LocalArray):
            return local_arrays.parts(self, held)
        return held

    # -- control helpers
    def new_block(self, name: str) -> L.Block:
        return self.fn.append_basic_block(name)

    def unlikely(self, branch: L.Instruction) -> None:
        """Weight a branch to an error exit as cold, so the hot path falls through and stays compact."""
        if self._cold is None:
            self._cold = self.m.add_metadata([L.MetaDataString(self.m, "branch_weights"), L.Constant(I32, 1),
                                              L.Constant(I32, 1 << 20)])
        branch.set_metadata("prof", self._cold)

    def fail_if(self, cond: L.Value, kind: str) -> None:
        if self.deferred is not None and kind.startswith(vecmath.DEFERRED_KINDS):
            # a branch out of the loop would keep it from vectorising: remember the failure in a
            # flag (an `or` reduction) that the end of the strip tests (see check_deferred)
            flag = self.entry_alloca(I1, f"defer.{kind}")
            self.b.store(self.b.or_(self.b.load(flag), cond), flag)
            self.deferred.append((flag, kind, self.line))
            return
        bad, ok = self.new_block(f"fail.{kind}"), self.new_block("ok")
        self.unlikely(self.b.cbranch(cond, bad, ok))
        self.b.position_at_end(bad)
        # the statement's line rides above the error's code: an impure function, which cannot be
        # re-run in the VM, still reports where it failed (noodle.backends.llvm.link)
        self.b.store(L.Constant(I32, STATUS[kind] | (min(self.line, LINE_LIMIT) << 8)), self.status)
        self.b.branch(self.exit)
        self.b.position_at_end(ok)

    def entry_alloca(self, ty: L.Type, name: str) -> L.Value:
        """A stack slot made, and set to zero, at the function's entry (so LLVM keeps it in a register)."""
        eb = L.IRBuilder(self.fn.entry_basic_block)
        eb.position_at_start(self.fn.entry_basic_block)
        slot = eb.alloca(ty, name=name)
        eb.store(L.Constant(ty, 0), slot)
        return slot

    def check_deferred(self, deferred: "list[tuple[L.Value, str, int]]") -> None:
        """The end of a strip: fail with the first deferred check (in the body's order) that failed.
        A flag is zero at the function's entry and stays zero until its check fails, which ends the
        call — so it never needs clearing.  Which of several failed checks is reported matters only
        to a caller that cannot re-run the call (see vecmath.deferrable)."""
        line = self.line
        for flag, kind, at in deferred:
            self.line = at
            self.fail_if(self.b.load(flag), kind)
        self.line = line

    def poll(self, steps: "L.Value | None" = None) -> None:
        """Charge `steps` (one when not given) to the context's budget: a load, a subtraction, a store
        and a branch.  When the chunk is used up, `nd_refill` stops the code if the budget is, or the
        context's stop flag is set (Ctrl-C, a deadline, a restart)."""
        b = self.b
        if POLLING != "all":  # a benchmark's switch (see POLLING)
            if POLLING == "stop":
                stop = b.load_atomic(ctx_field(b, self.ctx, CTX_STOP), "monotonic", 8)
                self.fail_if(b.icmp_signed("!=", stop, L.Constant(I64, 0)), "Stopped")
            return
        now = b.sub(b.load(self.budget), steps if steps is not None else L.Constant(I64, 1))
        b.store(now, self.budget)
        # the chunk used up: the slow path looks at the stop flag and the reserve
        slow, ok = self.new_block("refill"), self.new_block("polled")
        self.unlikely(b.cbranch(b.icmp_signed("<", now, L.Constant(I64, 0)), slow, ok))
        b.position_at_end(slow)
        refilled = b.call(_refill(self.m), [self.ctx, now])
        b.store(b.extract_value(refilled, 0), self.budget)
        self.fail_if(b.extract_value(refilled, 1), "Stopped")
        b.branch(ok)
        b.position_at_end(ok)

    def afford(self, n: L.Value) -> L.Value:
        """A strip of `n` iterations (n >= 1) cut to what the step budget still pays for (at least
        one, whose charge then stops the code): a loop left early is never charged for iterations
        it would not have run, and a loop stops at the step the VM stops at."""
        b = self.b
        left = b.load(self.budget)
        one = L.Constant(I64, 1)
        return b.select(b.icmp_signed(">", n, left), b.select(b.icmp_signed("<", left, one), one, left), n)

    def charge(self, steps: L.Value) -> None:
        """Charge work (in steps) without a stop of its own: the next poll stops when it is used up."""
        b = self.b
        b.store(b.sub(b.load(self.budget), steps), self.budget)

    def refund(self, loops: "list[_Loop]") -> None:
        """Leaving strip-charged loops early: give back the iterations of their strips not run
        (so the steps charged are the VM's: one per iteration run)."""
        b = self.b
        for loop in loops:
            if loop.strip is None:
                continue
            counter, limit, up, inclusive = loop.strip
            i = b.load(counter)
            left = b.sub(b.sub(limit, i) if up else b.sub(i, limit), L.Constant(I64, 0 if inclusive else 1))
            self.charge(b.sub(L.Constant(I64, 0), left))

    def after_jump(self) -> None:
        """Code after return/break/continue is unreachable: give it a block of its own."""
        self.b.position_at_end(self.new_block("dead"))

    # -- statements
    def body(self, stmts: list[ir.Stmt]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: ir.Stmt) -> None:
        b = self.b
        self.line = s.line or self.line
        if isinstance(s, ir.LocalSet) and s.slot in self.local_arrays:
            local_arrays.assign(self, s, self.local_arrays[s.slot])
        elif isinstance(s, ir.LocalSet):
            if id(s) in self.reductions:  # a recognised sum: its additions may be reordered (vectorised)
                value = s.value
                other = value.b if isinstance(value.a, ir.LocalGet) and value.a.slot == s.slot else value.a  # type: ignore[union-attr]
                b.store(b.fadd(b.load(self.slots[s.slot]), self.expr(other), flags=("reassoc",)),
                        self.slots[s.slot])
            else:
                b.store(self.expr(s.value), self.slots[s.slot])
        elif isinstance(s, ir.ExprStmt):
            self.expr(s.expr)
        elif isinstance(s, ir.If) and s.intent and variants.chosen_in_vm(s.intent):
            self.body(s.otherwise)  # native callers take the loops: the library variants are the VM's
        elif isinstance(s, ir.If):
            cond = self.expr(s.cond)
            then, other, join = self.new_block("then"), self.new_block("else"), self.new_block("endif")
            b.cbranch(cond, then, other)
            b.position_at_end(then)
            self.body(s.then)
            if not b.block.is_terminated:
                b.branch(join)
            b.position_at_end(other)
            self.body(s.otherwise)
            if not b.block.is_terminated:
                b.branch(join)
            b.position_at_end(join)
        elif isinstance(s, ir.While):
            head, body, done = self.new_block("while"), self.new_block("do"), self.new_block("wend")
            b.branch(head)
            b.position_at_end(head)
            b.cbranch(self.expr(s.cond), body, done)
            b.position_at_end(body)
            self.poll()
            self.loops.append(_Loop(head, done))
            self.body(s.body)
            self.loops.pop()
            if not b.block.is_terminated:
                b.branch(head)
            b.position_at_end(done)
        elif isinstance(s, ir.ForRange):
            self.for_range(s)
        elif isinstance(s, ir.Break):
            self.refund(self.loops[-1:])
            b.branch(self.loops[-1].brk)
            self.after_jump()
        elif isinstance(s, ir.Continue):
            b.branch(self.loops[-1].cont)
            self.after_jump()
        elif isinstance(s, ir.Return):
            values = s.value.items if isinstance(s.value, ir.TupleLit) else [s.value] if s.value is not None else []
            for value, slot in zip(values, self.results):
                b.store(self.expr(value), slot)
            self.refund(self.loops)
            b.branch(self.exit)
            self.after_jump()
        else:  # pragma: no cover - plan() rules these out
            raise Unsupported(_what(s), s.line)

    def for_range(self, s: ir.ForRange) -> None:
        """Python's range: bounds evaluated once, step 0 is an error, no overflow past the end.

        A loop `for j in a..b` that indexes arrays at `x[j + r]`, `x[r - j]` or `x[q, j + r]` (q, r
        not changed by the loop) is versioned: when every such index stays in bounds for all of
        a..b-1 and each array's last dimension is contiguous, a copy of the loop without those
        bounds checks runs (LLVM can then vectorise it); otherwise the checked loop does.
        """
        b = self.b
        last_expr = inclusive_stop(s)  # `a..=b`: the loop runs up to b itself (see inclusive_loop)
        start, step = self.expr(s.start), self.expr(s.step)
        stop = self.expr(last_expr if last_expr is not None else s.stop)
        zero = L.Constant(I64, 0)
        unit = isinstance(s.step, ir.Const) and s.step.value in (1, -1)
        if not unit:
            self.fail_if(b.icmp_signed("==", step, zero), "RangeStep")
        accesses = in_bounds_accesses(s)

        def loop() -> None:
            if last_expr is not None:
                self.inclusive_loop(s, start, stop)
            else:
                self.range_loop(s, start, stop, step, unit)
        if not accesses:
            loop()
            return
        fits: L.Value = L.Constant(I1, 1)
        end, end_wraps = stop, L.Constant(I1, 0)
        if last_expr is not None:  # the exclusive end b + 1, which does not exist when b is the largest int
            end, end_wraps = self.speculate_add(stop, L.Constant(I64, 1))
            fits = b.not_(end_wraps)
        for access in accesses:
            fits = b.and_(fits, self.access_fits(access, s.slot, start, end))
        fast, slow, done = self.new_block("inbounds"), self.new_block("checked"), self.new_block("endversions")
        b.cbranch(fits, fast, slow)
        b.position_at_end(fast)
        proven = {id(access.node) for access in accesses}
        self.unchecked |= proven
        loop()
        self.unchecked -= proven
        b.branch(done)
        b.position_at_end(slow)
        loop()
        b.branch(done)
        b.position_at_end(done)

    def access_fits(self, access: "Access", loop_slot: int, start: L.Value, stop: L.Value) -> L.Value:
        """Is every index of `access` in bounds for every j in start..stop-1 — an index `j + r` or
        `r - j` over the whole range, one the loop does not change where it is — and the array's last
        dimension contiguous (the unchecked version adds the last index as it is)?"""
        b = self.b
        zero = L.Constant(I64, 0)
        _, lengths, strides = self.array_parts(access.node.args[0].slot)  # type: ignore[union-attr]
        fits = b.icmp_signed("==", strides[-1], L.Constant(I64, 1))
        for (index, direction), length in zip(access.forms, lengths):
            # r: the index where j is 0; an index `j + r` runs over start+r .. stop-1+r, `r - j`
            # over r-stop+1 .. r-start
            r, wraps = self.speculate(index, loop_slot)
            if direction is None:
                fits = b.and_(fits, b.and_(b.and_(b.icmp_signed(">=", r, zero), b.icmp_signed("<", r, length)),
                                           b.not_(wraps)))
                continue
            if direction == 1:
                first, first_wraps = self.speculate_add(start, r)
                end, end_wraps = self.speculate_add(stop, r)  # one past the last
            else:
                end, end_wraps = self.speculate_add(r, start, "sub")
                end, end_more = self.speculate_add(end, L.Constant(I64, 1))  # one past the largest
                first, first_wraps = self.speculate_add(r, stop, "sub")
                first, first_more = self.speculate_add(first, L.Constant(I64, 1))  # the least
                end_wraps, first_wraps = b.or_(end_wraps, end_more), b.or_(first_wraps, first_more)
            fits = b.and_(fits, b.and_(b.icmp_signed(">=", first, zero), b.icmp_signed("<=", end, length)))
            fits = b.and_(fits, b.not_(b.or_(wraps, b.or_(first_wraps, end_wraps))))
        return fits

    def speculate_add(self, x: L.Value, y: L.Value, op: str = "add") -> tuple[L.Value, L.Value]:
        """x + y (or x - y) and whether it overflowed, without raising: for conditions computed ahead."""
        f = self.intrinsic(f"llvm.s{op}.with.overflow.i64", L.LiteralStructType([I64, I1]), [I64, I64])
        pair = self.b.call(f, [x, y])
        return self.b.extract_value(pair, 0), self.b.extract_value(pair, 1)

    def speculate(self, e: ir.Expr, loop_slot: int = -1) -> tuple[L.Value, L.Value]:
        """The value of an index (`+`/`-` of constants and locals, see native_plan._coefficient)
        before the loop, the loop variable (in `loop_slot`) taken as 0, and whether computing it
        overflows."""
        if isinstance(e, ir.Const):
            return L.Constant(I64, e.value), L.Constant(I1, 0)
        if isinstance(e, ir.LocalGet):
            if e.slot == loop_slot:
                return L.Constant(I64, 0), L.Constant(I1, 0)
            return self.b.load(self.slots[e.slot]), L.Constant(I1, 0)
        assert isinstance(e, ir.Binary)
        (x, xw), (y, yw) = self.speculate(e.a, loop_slot), self.speculate(e.b, loop_slot)
        v, w = self.speculate_add(x, y, e.op[4:])
        return v, self.b.or_(w, self.b.or_(xw, yw))

    def range_loop(self, s: ir.ForRange, start: L.Value, stop: L.Value, step: L.Value, unit: bool) -> None:
        b = self.b
        zero = L.Constant(I64, 0)
        counter = self.slots[s.slot]
        b.store(start, counter)
        head, body, incr, done = (self.new_block(n) for n in ("for", "body", "next", "endfor"))
        # (a body that assigns the counter could run a strip longer than charged: such loops poll each time)
        strips = unit and not _has_loop(s.body) and not assigns(s.body, s.slot)
        strip_info = None
        deferred: "list[tuple[L.Value, str, int]] | None" = None
        if strips:
            # an innermost `a..b` runs in strips of STRIP iterations: the flag is polled once per strip,
            # and each strip is a plain counted loop (one exit) that LLVM can still vectorise
            up = s.step.value == 1  # type: ignore[union-attr]
            strip, strip_end = self.new_block("strip"), self.new_block("stripend")
            b.branch(strip)
            b.position_at_end(strip)
            i = b.load(counter)
            b.cbranch(b.icmp_signed("<" if up else ">", i, stop), strip_end, done)
            b.position_at_end(strip_end)
            end, wraps = self.speculate_add(i, L.Constant(I64, STRIP), "add" if up else "sub")
            past = b.or_(wraps, b.icmp_signed(">" if up else "<", end, stop))
            limit = b.select(past, stop, end)
            n = self.afford(b.sub(limit, i) if up else b.sub(i, limit))
            limit = b.add(i, n) if up else b.sub(i, n)
            self.poll(n)  # the strip's iterations, charged before it runs
            strip_info = (counter, limit, up, False)
            b.branch(head)
            b.position_at_end(head)
            going = b.icmp_signed("<" if up else ">", b.load(counter), limit)
            if vecmath.deferrable(self.f, s.body):  # the strip's deferred checks, then the next strip
                checks = self.new_block("stripchecks")
                b.cbranch(going, body, checks)
                deferred = []
            else:
                b.cbranch(going, body, strip)
        else:
            b.branch(head)
            b.position_at_end(head)
            i = b.load(counter)
            if unit:  # the usual `a..b`: a plain counted loop LLVM can analyse, unroll and vectorise
                going = b.icmp_signed("<" if s.step.value == 1 else ">", i, stop)  # type: ignore[union-attr]
            else:
                up = b.icmp_signed(">", step, zero)
                going = b.select(up, b.icmp_signed("<", i, stop), b.icmp_signed(">", i, stop))
            b.cbranch(going, body, done)
        b.position_at_end(body)
        if not strips:
            self.poll()
        span = None
        if unit and not assigns(s.body, s.slot):  # the body sees start..stop-1 (or stop+1..start) only
            one = L.Constant(I64, 1)
            up = s.step.value == 1  # type: ignore[union-attr]
            span = (start, b.sub(stop, one)) if up else (b.add(stop, one), start)
        outer, self.deferred = self.deferred, deferred
        self.loop_body(s, _Loop(incr, done, strip_info), span)
        self.deferred = outer
        if deferred is not None:
            after = b.block
            b.position_at_end(checks)
            self.check_deferred(deferred)
            b.branch(strip)
            b.position_at_end(after)
        if unit:  # i < stop <= MAX (or i > stop >= MIN): one step cannot leave the int range
            b.store(b.add(b.load(counter), step, flags=["nsw"]), counter)
            b.branch(head)
        else:
            sadd = self.intrinsic("llvm.sadd.with.overflow.i64", L.LiteralStructType([I64, I1]), [I64, I64])
            pair = b.call(sadd, [b.load(counter), step])
            b.store(b.extract_value(pair, 0), counter)
            b.cbranch(b.extract_value(pair, 1), done, head)  # past the int range is past the end
        b.position_at_end(done)

    def loop_body(self, s: ir.ForRange, loop: "_Loop", span: "tuple[L.Value, L.Value] | None") -> None:
        """A `for` loop's body, with `loop` as the target of its break and continue and `span` (when
        known) as the loop variable's interval; the builder is left at the loop's `next` block."""
        b = self.b
        self.loops.append(loop)
        saved = self.reductions
        self.reductions = saved | float_reductions(s.body)
        if span is not None:
            self.spans[s.slot] = span
        self.body(s.body)
        self.spans.pop(s.slot, None)
        self.reductions = saved
        self.loops.pop()
        if not b.block.is_terminated:
            b.branch(loop.cont)
        b.position_at_end(loop.cont)

    def inclusive_loop(self, s: ir.ForRange, start: L.Value, last: L.Value) -> None:
        """`for i in start..=last`: entered when start <= last, left after the body ran with i == last.

        The exit test sits after the body, so `i + 1` is only computed below `last`: a loop up to
        the largest int ends instead of overflowing, and the loop keeps one exit, which LLVM can
        count (last - start + 1 iterations), unroll and vectorise.  An innermost loop runs in strips
        of at most STRIP iterations, each such a loop of its own, polled and charged once; an outer
        one polls on each iteration.
        """
        b = self.b
        counter = self.slots[s.slot]
        b.store(start, counter)
        body, incr, step, done = (self.new_block(n) for n in ("body", "next", "step", "endfor"))
        strips = not _has_loop(s.body) and not assigns(s.body, s.slot)
        if strips:
            strip, more = self.new_block("istrip"), self.new_block("istripnext")
            b.cbranch(b.icmp_signed("<=", start, last), strip, done)
            b.position_at_end(strip)
            i = b.load(counter)
            end, wraps = self.speculate_add(i, L.Constant(I64, STRIP - 1))
            strip_last = b.select(b.or_(wraps, b.icmp_signed(">", end, last)), last, end)
            n = self.afford(b.add(b.sub(strip_last, i), L.Constant(I64, 1)))
            strip_last = b.sub(b.add(i, n), L.Constant(I64, 1))
            self.poll(n)
            b.branch(body)
        else:
            b.cbranch(b.icmp_signed("<=", start, last), body, done)
        b.position_at_end(body)
        if not strips:
            self.poll()
        outer = self.deferred
        deferred = [] if strips and vecmath.deferrable(self.f, s.body) else None
        self.deferred = deferred
        self.loop_body(s, _Loop(incr, done, (counter, strip_last, True, True) if strips else None), (start, last))
        self.deferred = outer
        i = b.load(counter)
        if strips:
            b.cbranch(b.icmp_signed(">=", i, strip_last), more, step)
            b.position_at_end(more)  # the strip is done: the loop too, or the next strip
            if deferred:
                self.check_deferred(deferred)
            next_strip = self.new_block("istripstep")
            b.cbranch(b.icmp_signed(">=", i, last), done, next_strip)
            b.position_at_end(next_strip)
            b.store(b.add(i, L.Constant(I64, 1), flags=["nsw"]), counter)
            b.branch(strip)
        else:
            b.cbranch(b.icmp_signed(">=", i, last), done, step)
        b.position_at_end(step)
        b.store(b.add(i, L.Constant(I64, 1), flags=["nsw"]), counter)
        b.branch(body)
        b.position_at_end(done)

    # -- expressions
    def expr(self, e: ir.Expr) -> L.Value:
        b = self.b
        dim = shape_item(e)
        if dim is not None:  # `a.shape[k]`: a length the call passed in
            return self.array_parts(dim[0])[1][dim[1]]
        if isinstance(e, ir.Const):
            kind = scalar(e.ty)
            if kind == "bool":
                return L.Constant(I1, int(bool(e.value)))
            if kind in ("float", "f32"):
                return L.Constant(_SCALARS[kind], float(e.value))  # type: ignore[arg-type]
            return L.Constant(_SCALARS[kind or "int"], int(e.value))  # type: ignore[arg-type]
        if isinstance(e, ir.LocalGet):
            return b.load(self.slots[e.slot])
        if isinstance(e, ir.Unary):
            x = self.expr(e.x)
            if e.op == "int.neg":
                if not e.skip & 2:
                    self.fail_if(b.icmp_signed("==", x, L.Constant(I64, MIN)), "OverflowError")
                return b.sub(L.Constant(I64, 0), x)
            if e.op == "float.neg":
                return b.fneg(x)
            if e.op == "not":
                return b.xor(x, L.Constant(I1, 1))
            return b.sitofp(x, F64)
        if isinstance(e, ir.Binary):
            return self.binary(e)
        if isinstance(e, (ir.Logical, ir.Cond)):
            return self.branching(e)
        if isinstance(e, ir.Call):
            return self.call(e)
        if isinstance(e, ir.CallBuiltin):
            return self.native(e)
        raise Unsupported(_what(e), e.line)  # pragma: no cover

    def binary(self, e: ir.Binary) -> L.Value:
        b = self.b
        op = e.op
        x, y = self.expr(e.a), self.expr(e.b)
        if op in ("int.add", "int.sub", "int.mul"):
            name = {"int.add": "add", "int.sub": "sub", "int.mul": "mul"}[op]
            if e.skip == 3:
                return getattr(b, name)(x, y, flags=["nsw"])
            span = self.span(e)
            if span is None:
                return self.checked(name, x, y)
            return self.guarded(name, x, y, span[2])
        if op in ("int.floordiv", "int.mod"):
            return self.floor_divmod(x, y, I64, MIN, op == "int.floordiv")
        if op in ("int.and", "int.or", "int.xor"):
            return {"int.and": b.and_, "int.or": b.or_, "int.xor": b.xor}[op](x, y)
        if op in ("float.add", "float.sub", "float.mul"):
            return {"float.add": b.fadd, "float.sub": b.fsub, "float.mul": b.fmul}[op](x, y)
        if op in ("float.div", "float.floordiv", "float.mod"):
            self.fail_if(b.fcmp_ordered("==", y, L.Constant(F64, 0.0)), "ZeroDivisionError")
            if op == "float.div":
                return b.fdiv(x, y)
            return self.float_divmod(x, y, op == "float.floordiv")
        if op.startswith("cmp."):
            rel = {"cmp.eq": "==", "cmp.ne": "!=", "cmp.lt": "<", "cmp.le": "<=", "cmp.gt": ">",
                   "cmp.ge": ">="}[op]
            if x.type in _FLOATS:
                return b.fcmp_unordered(rel, x, y) if rel == "!=" else b.fcmp_ordered(rel, x, y)
            if x.type == I1:
                return b.icmp_unsigned(rel, x, y)
            return b.icmp_signed(rel, x, y)
        raise Unsupported(f"`{op}`", e.line)  # pragma: no cover

    def floor_divmod(self, x: L.Value, y: L.Value, ty: L.IntType, least: int, want_div: bool) -> L.Value:
        """Python's `//` or `%` on ints of type `ty` (`least` its smallest value): zero divisors raise,
        `least // -1` overflows."""
        b = self.b
        zero, minus1 = L.Constant(ty, 0), L.Constant(ty, -1)
        self.fail_if(b.icmp_signed("==", y, zero), "ZeroDivisionError")
        if want_div:
            self.fail_if(b.and_(b.icmp_signed("==", x, L.Constant(ty, least)), b.icmp_signed("==", y, minus1)),
                         "OverflowError")
        else:  # least % -1 is 0, but srem traps on it: divide by 1 instead
            y = b.select(b.icmp_signed("==", y, minus1), L.Constant(ty, 1), y)
        q, r = b.sdiv(x, y), b.srem(x, y)
        adjust = b.and_(b.icmp_signed("!=", r, zero),
                        b.icmp_signed("!=", b.icmp_signed("<", r, zero), b.icmp_signed("<", y, zero)))
        if want_div:
            return b.select(adjust, b.sub(q, L.Constant(ty, 1)), q)
        return b.select(adjust, b.add(r, y), r)

    def narrow(self, name: str, args: list[L.Value]) -> L.Value:
        """The 32-bit types' natives (noodle.stdlib.narrow): f32 in single precision (the same bits as
        the VM's double-then-round), i32 with overflow raising."""
        b = self.b
        op = name.split(".", 1)[1]
        if name in ("f32.add", "f32.sub", "f32.mul"):
            return {"add": b.fadd, "sub": b.fsub, "mul": b.fmul}[op](*args)
        if name == "f32.div":
            self.fail_if(b.fcmp_ordered("==", args[1], L.Constant(F32, 0.0)), "ZeroDivisionError")
            return b.fdiv(*args)
        if name == "f32.neg":
            return b.fneg(args[0])
        if name in ("i32.add", "i32.sub", "i32.mul"):
            return self.checked(op, *args, ty=I32)
        if name in ("i32.floordiv", "i32.mod"):
            return self.floor_divmod(*args, I32, I32_MIN, name == "i32.floordiv")
        if name == "i32.neg":
            self.fail_if(b.icmp_signed("==", args[0], L.Constant(I32, I32_MIN)), "OverflowError")
            return b.sub(L.Constant(I32, 0), args[0])
        if name == "float.to_f32":
            return b.fptrunc(args[0], F32)  # round to nearest; inf beyond the range, as IEEE says
        if name == "f32.to_float":
            return b.fpext(args[0], F64)
        if name == "int.to_i32":
            x = args[0]
            self.fail_if(b.or_(b.icmp_signed("<", x, L.Constant(I64, I32_MIN)),
                               b.icmp_signed(">", x, L.Constant(I64, I32_MAX))), "OverflowError")
            return b.trunc(x, I32)
        if name == "i32.to_int":
            return b.sext(args[0], I64)
        raise Unsupported(f"`{name}`")  # pragma: no cover

    def checked(self, name: str, x: L.Value, y: L.Value, ty: L.IntType = I64) -> L.Value:
        f = self.intrinsic(f"llvm.s{name}.with.overflow.i{ty.width}", L.LiteralStructType([ty, I1]), [ty, ty])
        pair = self.b.call(f, [x, y])
        self.fail_if(self.b.extract_value(pair, 1), "OverflowError")
        return self.b.extract_value(pair, 0)

    def guarded(self, name: str, x: L.Value, y: L.Value, fits: L.Value) -> L.Value:
        """`x op y` without its check where `fits` (loop-invariant) says no loop value can overflow.

        LLVM unswitches on `fits`: the loop runs a copy with `nsw` arithmetic, which it can
        strength-reduce and reason about (signs, `urem`), and the checked copy when the bounds are huge.
        """
        b = self.b
        fast, slow, join = self.new_block("fits"), self.new_block("mayoverflow"), self.new_block("arith")
        b.cbranch(fits, fast, slow)
        b.position_at_end(fast)
        quick = getattr(b, name)(x, y, flags=["nsw"])
        b.branch(join)
        b.position_at_end(slow)
        careful = self.checked(name, x, y)
        slow_end = b.block
        b.branch(join)
        b.position_at_end(join)
        phi = b.phi(I64)
        phi.add_incoming(quick, fast)
        phi.add_incoming(careful, slow_end)
        return phi

    def span(self, e: ir.Expr, depth: int = 0) -> "tuple[L.Value, L.Value, L.Value] | None":
        """(least, greatest, no overflow) of an int expression over its loops' ranges, from the loop bounds.

        Only constants, loop variables with a recorded span and `+ - *` of those; `*` needs both
        operands non-negative (then the corners are the least and the greatest products).  None (the
        checked arithmetic) below SPAN_DEPTH levels: each `+` of a chain asks for its whole left
        operand's span, so unbounded, a chain of n terms emitted n²/2 instructions.
        """
        b = self.b
        if depth > SPAN_DEPTH:
            return None
        if isinstance(e, ir.Const) and type(e.value) is int:
            c = L.Constant(I64, e.value)
            return c, c, L.Constant(I1, 1)
        if isinstance(e, ir.LocalGet) and e.slot in self.spans:
            lo, hi = self.spans[e.slot]
            return lo, hi, L.Constant(I1, 1)
        if not (isinstance(e, ir.Binary) and e.op in ("int.add", "int.sub", "int.mul")):
            return None
        a, c = self.span(e.a, depth + 1), self.span(e.b, depth + 1)
        if a is None or c is None:
            return None
        ok = b.and_(a[2], c[2])
        if e.op == "int.add":
            lo, hi = (a[0], c[0]), (a[1], c[1])
        elif e.op == "int.sub":
            lo, hi = (a[0], c[1]), (a[1], c[0])
        else:
            zero = L.Constant(I64, 0)
            ok = b.and_(ok, b.and_(b.icmp_signed(">=", a[0], zero), b.icmp_signed(">=", c[0], zero)))
            lo, hi = (a[0], c[0]), (a[1], c[1])
        name = e.op[4:]
        f = self.intrinsic(f"llvm.s{name}.with.overflow.i64", L.LiteralStructType([I64, I1]), [I64, I64])
        low, high = b.call(f, list(lo)), b.call(f, list(hi))
        ok = b.and_(ok, b.not_(b.or_(b.extract_value(low, 1), b.extract_value(high, 1))))
        return b.extract_value(low, 0), b.extract_value(high, 0), ok

    def float_divmod(self, x: L.Value, y: L.Value, want_div: bool) -> L.Value:
        """CPython's float floor division and modulo (Objects/floatobject.c), step by step."""
        b = self.b
        zero, one, half = L.Constant(F64, 0.0), L.Constant(F64, 1.0), L.Constant(F64, 0.5)
        copysign = self.intrinsic("llvm.copysign.f64", F64, [F64, F64])
        floor = self.intrinsic("llvm.floor.f64", F64, [F64])
        mod = b.frem(x, y)
        div = b.fdiv(b.fsub(x, mod), y)
        mod_nonzero = b.fcmp_unordered("!=", mod, zero)
        signs_differ = b.icmp_unsigned("!=", b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero))
        fix = b.and_(mod_nonzero, signs_differ)
        mod = b.select(mod_nonzero, b.select(fix, b.fadd(mod, y), mod), b.call(copysign, [zero, y]))
        if not want_div:
            return mod
        div = b.select(fix, b.fsub(div, one), div)
        fl = b.call(floor, [div])
        fl = b.select(b.fcmp_ordered(">", b.fsub(div, fl), half), b.fadd(fl, one), fl)
        return b.select(b.fcmp_unordered("!=", div, zero), fl, b.call(copysign, [zero, b.fdiv(x, y)]))

    def branching(self, e: "ir.Logical | ir.Cond") -> L.Value:
        b = self.b
        if isinstance(e, ir.Logical):
            a = self.expr(e.a)
            a_end = b.block
            rhs, join = self.new_block("rhs"), self.new_block("logic")
            if e.op == "and":
                b.cbranch(a, rhs, join)
            else:
                b.cbranch(a, join, rhs)
            b.position_at_end(rhs)
            v = self.expr(e.b)
            rhs_end = b.block
            b.branch(join)
            b.position_at_end(join)
            phi = b.phi(I1)
            phi.add_incoming(L.Constant(I1, 0 if e.op == "and" else 1), a_end)
            phi.add_incoming(v, rhs_end)
            return phi
        c = self.expr(e.cond)
        then, other, join = self.new_block("cthen"), self.new_block("celse"), self.new_block("cend")
        b.cbranch(c, then, other)
        b.position_at_end(then)
        tv = self.expr(e.then)
        t_end = b.block
        b.branch(join)
        b.position_at_end(other)
        ov = self.expr(e.otherwise)
        o_end = b.block
        b.branch(join)
        b.position_at_end(join)
        phi = b.phi(tv.type)
        phi.add_incoming(tv, t_end)
        phi.add_incoming(ov, o_end)
        return phi

    def call(self, e: ir.Call) -> L.Value:
        b = self.b
        callee = self.decls[e.func]
        args: list[L.Value] = []
        for a in e.args:
            if isinstance(a, ir.LocalGet) and a.slot in self.arrays:  # an Array goes as its pointer and shape
                data, lengths, strides = self.array_parts(a.slot)
                args += [data, *lengths, *strides]
            else:
                args.append(self.expr(a))
        kind = scalar(e.ty)
        if kind is None:
            raise Unsupported("calling a function that returns several values", e.line)
        self.poll()  # the call's step (the VM charges it at the callee's entry, before the depth check)
        args = [self.ctx] + args + [self.deeper, b.load(self.budget)]
        r = b.call(callee, args)
        b.store(b.extract_value(r, status_of(r) + 1), self.budget)  # the steps the callee left
        self.propagate(b.extract_value(r, status_of(r)))
        if kind == "none":
            return L.Constant(I1, 0)
        return b.extract_value(r, 0)

    def propagate(self, status: L.Value) -> None:
        b = self.b
        bad, ok = self.new_block("callfail"), self.new_block("callok")
        self.unlikely(b.cbranch(b.icmp_signed("!=", status, L.Constant(I32, 0)), bad, ok))
        b.position_at_end(bad)
        b.store(status, self.status)
        b.branch(self.exit)
        b.position_at_end(ok)

    def native(self, e: ir.CallBuiltin) -> L.Value:
        b = self.b
        if e.name in PARALLEL_BUILTINS:
            from noodle.backends.llvm.threads import lower_parallel
            return lower_parallel(self, e)
        if e.name == "lapack.potrf":  # a recognised factorisation: LAPACK called from here
            from noodle.backends.llvm.lapack import lower_potrf
            return lower_potrf(self, e)
        if e.name == "array.dot":  # `dot` of two float Arrays: the BLAS ddot NumPy calls
            from noodle.backends.llvm.blas import lower_dot
            return lower_dot(self, e)
        if e.name.startswith("blas."):  # a recognised contraction: BLAS called from here
            from noodle.backends.llvm.blas import lower_call, lower_diagonal_nonzero, lower_fits
            if e.name == "blas.diagonal_nonzero":
                return lower_diagonal_nonzero(self, e)
            return lower_fits(self, e) if e.name == "blas.fits" else lower_call(self, e)
        if e.name in ("array.get", "array.len", "array.set"):
            data, lengths, strides = self.array_parts(e.args[0].slot)  # type: ignore[union-attr]
            if e.name == "array.len":
                return lengths[0]
            ndim = len(lengths)
            index_args = e.args[1:1 + ndim]
            if id(e) in self.unchecked:  # the loop's in-bounds version: last dimension contiguous
                offset = L.Constant(I64, 0)
                for ix, stride in zip(index_args[:-1], strides[:-1]):
                    offset = b.add(offset, b.mul(self.expr(ix), stride, flags=["nsw"]), flags=["nsw"])
                offset = b.add(offset, self.expr(index_args[-1]), flags=["nsw"])
                address = b.gep(data, [offset], inbounds=True)
            else:
                zero = L.Constant(I64, 0)
                offset: L.Value = zero
                for ix, length, stride in zip(index_args, lengths, strides):
                    i = self.expr(ix)
                    i = b.select(b.icmp_signed("<", i, zero), b.add(i, length), i)  # negative counts from the end
                    self.fail_if(b.or_(b.icmp_signed("<", i, zero), b.icmp_signed(">=", i, length)), "IndexError")
                    offset = b.add(offset, b.mul(i, stride))
                address = b.gep(data, [offset])
            if e.name == "array.get":
                return b.load(address)
            b.store(self.expr(e.args[1 + ndim]), address)
            return L.Constant(I1, 0)
        args = [self.expr(a) for a in e.args]
        name = e.name
        if name in MATH_BUILTINS:
            return mathlib.lower_math(self, name, args)
        if name in ("int.int", "float.float", "f32.f32", "i32.i32"):
            return args[0]
        if name.startswith(("f32.", "i32.")) or name in ("float.to_f32", "int.to_i32"):
            return self.narrow(name, args)
        if name == "abs.int":
            x = args[0]
            self.fail_if(b.icmp_signed("==", x, L.Constant(I64, MIN)), "OverflowError")
            return b.select(b.icmp_signed("<", x, L.Constant(I64, 0)), b.sub(L.Constant(I64, 0), x), x)
        if name == "abs.float":
            return b.call(self.intrinsic("llvm.fabs.f64", F64, [F64]), args)
        if name in ("min2", "max2"):
            x, y = args
            rel = "<" if name == "min2" else ">"
            better = b.fcmp_ordered(rel, y, x) if x.type == F64 else b.icmp_signed(rel, y, x)
            return b.select(better, y, x)  # Python keeps the first of equals (and a NaN first)
        if name == "int.float":  # int(x): truncate; nan and out-of-range values are errors
            x = args[0]
            self.fail_if(b.fcmp_unordered("uno", x, x), "NanToInt")
            in_range = b.and_(b.fcmp_ordered(">=", x, L.Constant(F64, -9.223372036854775808e18)),
                              b.fcmp_ordered("<", x, L.Constant(F64, 9.223372036854775808e18)))
            self.fail_if(b.xor(in_range, L.Constant(I1, 1)), "OverflowError")
            return b.fptosi(x, I64)
        raise Unsupported(f"calling `{name}`", e.line)  # pragma: no cover
