"""The llvmlite backend: whole typed functions compiled to native code.

`native_part(module_file, module_ir)` decides, from the typed IR every `.nbc` carries,
which functions run natively (:func:`decide`: the IR's plan, less any function whose lowering
fails) and lowers them to LLVM IR text, which the VM's image keeps; linking an image JIT-compiles
that text (`jit.py`, machine code cached on disk) and puts native callables in place of the
translated Python functions.  Functions it cannot take stay in the VM, each on its own — the
machine's `native_report` and `noodlec --explain` say which and why.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


def available() -> bool:
    try:
        import llvmlite  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Decision:
    """What of a module runs natively, decided once for the loader and for `noodlec --explain`.

    `plan` is the IR's plan (noodle.ir.native_plan) less the functions the backend then could not
    take; `refused` names those, and the functions calling them, with why: each runs in the VM,
    and only it — the rest of the module stays native."""

    plan: Any
    llvm_module: Any  # the lowered module (llvmlite.ir), None when no function runs natively
    refused: dict[str, str] = field(default_factory=dict)
    llvm_ir: str = ""  # its text, as verified (printing a module costs as much as lowering it)


def decide(module_ir: Any) -> Decision:
    """Plan, lower and verify the native part of a typed module; a function whose lowering fails (or
    whose LLVM IR does not verify) goes back to the VM with the reason, and the rest is lowered again."""
    from noodle.backends.llvm.lower import LoweringFailed, build_module, plan
    from noodle.ir.native_plan import exclude

    p = plan(module_ir)
    chosen = list(p.native)
    while p.native:
        try:
            llvm_module = build_module(module_ir, p.compiled, p.native)
        except LoweringFailed as e:
            p = exclude(module_ir, p, e.name, f"native lowering failed: {e.reason}")
            continue
        text = str(llvm_module)
        bad = _unverified(module_ir, p, text)
        if not bad:
            return Decision(p, llvm_module, {n: p.reasons[n] for n in chosen if n not in p.native}, text)
        for name, why in bad.items():
            if name in p.native:
                p = exclude(module_ir, p, name, f"its LLVM IR does not verify: {why}")
    return Decision(p, None, {n: p.reasons[n] for n in chosen if n not in p.native})


def _unverified(module_ir: Any, p: Any, llvm_ir: str) -> dict[str, str]:
    """{} when the module's LLVM IR verifies; else the native functions whose own module (with their
    callees) does not, with LLVM's message (all of them when none fails alone)."""
    import llvmlite.binding as llvm

    from noodle.backends.llvm.lower import build_module
    from noodle.ir.native_plan import reachable

    def failure(text: str) -> str | None:
        try:
            llvm.parse_assembly(text).verify()
        except RuntimeError as e:
            return str(e).strip().splitlines()[0] if str(e).strip() else "RuntimeError"
        return None

    whole = failure(llvm_ir)
    if whole is None:
        return {}
    bad = {}
    for name in p.native:
        needed = reachable(module_ir, [name])
        why = failure(str(build_module(module_ir, [n for n in p.compiled if n in needed], [name])))
        if why is not None:
            bad[name] = why
    return bad or {name: whole for name in p.native}


def native_part(module_file: Any, module_ir: Any = None) -> "tuple[str, list[tuple[str, int, str, list[str], str]], dict[str, str]] | None":
    """(LLVM IR text, [(function, index, symbol, parameter kinds, result kind)], refused) or None.

    `refused`: the functions the plan chose that the backend could not take, with why (they run in
    the VM; the machine's native_report says so).  None when the plan chose no function.

    The loader passes `module_ir`, the module's typed IR as it proved it consistent with the
    verified bytecode (noodle.vm.verify_ir): the machine never links native code built from IR
    that was not checked.  Without it the IR is decoded from the file as it is (`noodlec --emit
    llvm` on a module the compiler just made)."""
    if not available():
        return None
    if module_ir is None:
        if not module_file.ir:
            return None
        from noodle.ir.nodes import decode_module
        module_ir = decode_module(module_file.ir)

    from noodle.backends.llvm.lower import array_kind, result_kinds, scalar, symbol
    from noodle.ir.native_plan import impure_functions

    d = decide(module_ir)
    if d.llvm_module is None:
        return ("", [], d.refused) if d.refused else None
    p = d.plan
    index = {f.name: i for i, f in enumerate(module_file.functions)}
    fns = {f.name: f for f in module_ir.functions}
    impure = impure_functions(module_ir)
    entries = []
    for name in p.native:
        f = fns[name]
        pure = name not in impure
        entries.append((name, index[name], symbol(name),
                        [f"array:{array_kind(t)}" if array_kind(t) else scalar(t) for t in f.local_types[: f.params]],
                        ",".join(result_kinds(f.ret) or []) + ("" if pure else ";impure")))
    return d.llvm_ir, entries, d.refused


#: the fast-math flags the lowering puts on recognised sums, and only there (see lower.py)
REASSOCIATION = " reassoc"


def link(native: "tuple[str, list]", displays: dict[str, str], fallbacks: dict[str, Any],
         exact: bool = False, on_stop: Any = None, context: Any = None) -> dict[str, Any]:
    """Compile an image's native part; `{function name: Python callable}` for the machine.

    `exact` (`--mode safe`) takes the reassociation off recognised sums, so they add in
    the loop's order and give the VM's results to the last bit (and do not vectorise), and leaves
    the math calls of `@vector_math` functions scalar (noodle.backends.llvm.vecmath).

    Native functions are pure (scalars in, a scalar out, no module state, no output), so
    when one fails, the wrapper runs the same call again on its translated VM function
    (`fallbacks`): the error then carries the full Noodle stack.  A call stopped by the stop flag
    (noodle.backends.llvm.stop) is re-run the same way, where Ctrl-C or a limit then takes effect;
    one that cannot be re-run (it stores into Arrays) calls `on_stop(status)`, which raises.

    `context` gives each call its context (noodle.backends.llvm.stop): one without limits, whose
    `address` every call uses (a :class:`stop.Contexts`, the machine's), or one with `enter()` (the
    calling thread's context's address, after the budget is set) and `leave()` (charges what the
    call used; may raise) — a VM's meter.  Without one, the functions get a context of their own.
    """
    from noodle.backends.llvm import jit

    text, entries = native[0], native[1]
    splits = "nd_threads" in text  # a loop nest split across cores
    if splits:
        from noodle.backends.llvm import pool
        pool.ensure()  # the workers' pool, linked into the module
    # `@vector_math` functions get libmvec's variants of their math calls (vecmath), except in
    # --mode safe, which wants the VM's bits: their calls then stay scalar
    from noodle.backends.llvm import vecmath
    engine, _ = jit.compile_ir(text.replace(REASSOCIATION, "") if exact else vecmath.prepare(text))
    if "noodle_blas_" in text:  # recognised contractions (noodle.backends.llvm.blas)
        from noodle.backends.llvm import blas
        blas.configure(engine, exact)
    if splits:  # how many threads, and from what size
        from noodle.ir import variants
        from noodle.backends.llvm.threads import MIN_GLOBAL, THREADS_GLOBAL, thread_count
        jit.set_global(engine, THREADS_GLOBAL, thread_count())
        jit.set_global(engine, MIN_GLOBAL, variants.threshold("map.parallel"))
    if context is None:
        from noodle.backends.llvm.stop import Contexts
        context = Contexts()
    from noodle.backends.llvm import pyentry
    from noodle.backends.llvm.lower import CONTEXT_GLOBAL, PY_ENTRY

    # the Python entries run under the machine's one context without limits (they read it from a
    # global of the module); a VM with limits charges each call (enter/leave): the ctypes way
    direct = getattr(context, "enter", None) is None and pyentry.layout_matches()
    if direct:
        jit.set_global(engine, CONTEXT_GLOBAL, context.address)
    out: dict[str, Any] = {}
    for name, _index, sym, params, ret in entries:
        ret, _, impure = ret.partition(";")
        display = displays.get(name, name)
        convert = _arguments(params, writes=bool(impure))
        # a function that stores into arrays cannot be re-run after a failure: raise the error as it is
        fallback = _raise_status(name, display, fallbacks[name], on_stop) if impure else fallbacks[name]
        through_ctypes = _wrapper(jit.function(engine, sym, params, ret), ret, fallback, display, convert,
                                  fallbacks[name], context)
        address = engine.get_function_address(sym + PY_ENTRY) if direct else 0
        if address:
            handler = _handler(through_ctypes, fallback, context)
            entry = pyentry.builtin(address, display, handler)
            out[name] = pyentry.NativeFunction.make(entry, display)
            out[name].__noodle_name__ = display
            limit = engine.get_global_value_address(sym + PY_ENTRY + pyentry.LIMIT)
            out[name].__noodle_entry__ = pyentry.EntryInfo(address, handler, limit, not impure, display)
        else:
            out[name] = through_ctypes
    return out


def _handler(through_ctypes: Any, fallback: Any, context: Any) -> Any:
    """What a Python entry (noodle.backends.llvm.pyentry) hands a call it does not finish: arguments
    it does not take go the ctypes way (the same checks, the VM when they fail); a failed call (a
    non-zero status) re-runs in the VM, or raises its error, as the ctypes path does — unless a
    signal handler raised while it ran (noodle.backends.llvm.stop): then that exception."""
    from noodle.backends.llvm.pyentry import NOT_FAST
    from noodle.backends.llvm.stop import context_of, raise_pending

    def handle(status: int, *args: Any) -> Any:
        if status == NOT_FAST:
            return through_ctypes(*args)
        _last_status.value = status
        raise_pending(context_of(context))
        return fallback(*args)
    return handle


def _stopped() -> None:
    from noodle.backends.llvm.stop import Stopped

    raise Stopped("native code stopped")


def _raise_status(name: str, display: str, vm_function: Any, on_stop: Any = None) -> Any:
    """The fallback of an impure native function: the error of its status, without re-running it,
    and the line it failed on (the status carries it) as the innermost frame of the Noodle stack."""
    from noodle.backends.llvm.local_arrays import MEMORY_LIMIT
    from noodle.backends.llvm.lower import ERRORS, STOPPED, TOO_DEEP
    from noodle.runtime.linemap import CODE_REGISTRY
    from noodle.runtime.values import ErrorValue

    info = CODE_REGISTRY.get(getattr(getattr(vm_function, "__code__", None), "co_filename", ""))

    def fallback(*_args: Any) -> Any:
        status = _last_status.value
        if on_stop is not None and status & 0xFF in (STOPPED, TOO_DEEP, MEMORY_LIMIT):
            on_stop(status & 0xFF)  # the machine raises its limit's error, when a limit stopped the call
        if status & 0xFF == STOPPED:
            _stopped()
        kind, message = ERRORS[status & 0xFF]
        error = ErrorValue(kind, message)
        line = status >> 8
        if info is not None and line:
            # the column of the statement on that line, as the VM's translation of this function has it
            col = min((entry[2] for entry in info.lines.values() if entry[0] == display and entry[1] == line),
                      default=1)
            error.native_frame = (display, info.source_file, line, col)  # type: ignore[attr-defined]
        raise error
    return fallback


class _LastStatus(threading.local):
    """The status of this thread's last native call (an impure function's error comes from it)."""

    value = 1


_last_status = _LastStatus()


#: NumPy's name of each element kind native code reads through a data pointer
_DTYPES = {"float": "float64", "int": "int64", "f32": "float32", "i32": "int32"}


#: the range of each integer kind native code takes (ctypes would wrap a wider value silently)
_INT_RANGES = {"int": (-(2**63), 2**63 - 1), "i32": (-(2**31), 2**31 - 1)}


def _arguments(params: list[str], writes: bool = False) -> Any:
    """Arguments for the native call: each Array as (data address, lengths, strides in elements),
    each scalar as it is; or None when an argument is not what native code reads (another element
    kind, other dimensions, strides that are not whole elements, an int past its kind's range, a
    value of another type, another count) or, for a function that `writes` Arrays, an Array NumPy
    marks read-only (over a `bytes`, a read-only mapping: a store would change an immutable object
    or crash): the call then runs in the VM, which gives its outcome.

    The verified bytecode of a crafted module is not type-checked, so it could hand a function
    whose IR declares `Array<float>` an `Array<bool>`; native code would read and write past it.
    A host may call with any Python values.
    """
    import numpy

    ndarray, integer = numpy.ndarray, numpy.integer
    wanted = [(numpy.dtype(_DTYPES[p[6:].split("/")[0]]), int(p[6:].split("/")[1])) if p.startswith("array:")
              else p for p in params]

    def flatten(args: tuple) -> list[Any] | None:
        if len(args) != len(wanted):
            return None
        flat: list[Any] = []
        for a, want in zip(args, wanted):
            if isinstance(want, str):  # a scalar: a value the VM computes with as native code does
                if want in _INT_RANGES:
                    low, high = _INT_RANGES[want]
                    if not (type(a) is int or isinstance(a, integer)) or not low <= a <= high:
                        return None  # (a bool is the VM's bool: its result would print `true`)
                    a = int(a)
                elif want in ("float", "f32"):
                    if not isinstance(a, float):  # NumPy's float64 is one
                        return None
                    a = float(a)
                elif not (a is True or a is False or isinstance(a, numpy.bool_)):
                    return None
                flat.append(a)
                continue
            if type(a) is not ndarray or a.dtype != want[0] or a.ndim != want[1]:
                return None
            if writes and not a.flags.writeable:
                return None
            size = a.itemsize
            strides = a.strides
            if any(st % size for st in strides):
                return None
            # NumPy views work as they are: the strides say where the next elements are
            flat += [a.__array_interface__["data"][0], *a.shape, *(st // size for st in strides)]
        return flat
    return flatten


#: what `native_call` answers for arguments native code cannot take: the VM runs the call
_IN_VM = -1


def _wrapper(cf: Any, ret: str, fallback: Any, display: str, convert: Any = None, vm: Any = None,
             context: Any = None) -> Any:
    """The Python callable for a native function; on a non-zero status it re-runs the call in the VM."""
    import ctypes

    from noodle.backends.llvm.stop import context_of, raise_pending

    argument_error = ctypes.ArgumentError
    enter, leave = getattr(context, "enter", None), getattr(context, "leave", None)

    def native_call(args: tuple, *extra: Any) -> int:
        try:
            if convert is not None:
                flat = convert(args)
                if flat is None:
                    return _IN_VM
            else:
                flat = args
            if enter is None:
                status = cf(*flat, context.address, *extra)
                _last_status.value = status
                if status:  # a signal handler's exception first (stop.py), then the status
                    raise_pending(context_of(context))
                return status
            status = cf(*flat, enter(), *extra)
            _last_status.value = status
            if status:
                raise_pending(context_of(context))
            leave()  # what the call used, charged to the machine's budget (raises past a limit)
            return status
        except argument_error as e:
            # ctypes converting arguments near Python's recursion limit (a VM fallback recursing)
            if isinstance(e.__context__, RecursionError) or "RecursionError" in str(e):
                raise RecursionError("recursion depth exceeded") from None
            return _IN_VM  # a value ctypes cannot convert (a host's float for an int): the VM's outcome

    kinds = ret.split(",") if ret else []
    if not kinds:
        def call(*args: Any) -> None:
            status = native_call(args)
            if status:
                if status == _IN_VM:
                    return vm(*args)
                fallback(*args)  # raises the error, with its stack
    elif len(kinds) > 1:  # an outlined loop: the variables it changed, as a tuple
        ctypes_of = {"int": ctypes.c_int64, "float": ctypes.c_double, "bool": ctypes.c_int8, "i32": ctypes.c_int32,
                     "f32": ctypes.c_float}
        makers = [ctypes_of[k] for k in kinds]
        bools = [k == "bool" for k in kinds]
        byref = ctypes.byref

        def call(*args: Any) -> Any:
            outs = [m() for m in makers]
            status = native_call(args, *[byref(o) for o in outs])
            if status:
                return vm(*args) if status == _IN_VM else fallback(*args)
            return tuple(bool(o.value) if b else o.value for o, b in zip(outs, bools))
    else:
        ret = kinds[0]
        ctype = {"int": ctypes.c_int64, "float": ctypes.c_double, "bool": ctypes.c_int8, "i32": ctypes.c_int32,
                 "f32": ctypes.c_float}[ret]
        byref = ctypes.byref
        as_bool = ret == "bool"

        def call(*args: Any) -> Any:
            out = ctype()
            status = native_call(args, byref(out))
            if status:
                return vm(*args) if status == _IN_VM else fallback(*args)  # the error, with its stack
            return bool(out.value) if as_bool else out.value
    call.__noodle_name__ = display  # type: ignore[attr-defined]
    call.__noodle_native__ = True  # type: ignore[attr-defined]
    return call
