"""The Python entry of a native function: machine code that takes the Python objects themselves.

Calling native code through ctypes costs microseconds before any work is done: ctypes converts each
argument, and an Array's data pointer is only reachable through `__array_interface__`, which builds
a dict per call.  A small kernel (jacobi-1d, a matrix-vector product) spent most of its time there.
Numba avoids it by unboxing arguments in compiled code through the CPython C API; this module does
the same for every native function with an entry point:

    PyObject *nd_f_py(PyObject *handler, PyObject *const *args, Py_ssize_t nargs)   (METH_FASTCALL)

made a builtin function (`PyCMethod_New`) whose `self` is a Python `handler(status, *args)`.  It
checks and reads each argument — an Array: exactly a NumPy ndarray, the element type's own dtype,
the declared number of dimensions, strides in whole elements, writeable (the same checks the ctypes
path makes; it takes a read-only Array to a function that does not store into Arrays); an int: exactly an int that fits; a float: exactly a float; a bool: True or False — then
releases the GIL (other threads run, the stop flag's watchers included), calls the function,
takes the GIL back and boxes the result.  Whatever it does not take (another type, a dtype object
that is equal but not NumPy's own, the wrong number of arguments) goes to the handler with the
status `NOT_FAST`, which runs the ctypes path as before: same checks, same behaviour.  A failed
call (a non-zero status) goes to the handler too, which re-runs it in the VM or raises its error.

An entry also refuses (NOT_FAST) an Array of more elements than its global `<entry>.limit` (no
bound unless a host sets one: library evolution bounds a replacement to the sizes it was measured
at).  `rehandled` makes another builtin over the same machine code with another handler — library
evolution's call sites hold one whose handler answers NOT_FAST with "not served", so that the
entry's checks in C are the replacement's guard.

The layout it reads (CPython's object header, `PyFloatObject`, NumPy's `PyArrayObject_fields`) is
checked against live objects before any entry is used (`layout_matches`); where it differs (a
debug or free-threaded CPython, another implementation) every call takes the ctypes path.
"""
from __future__ import annotations

import ctypes
import sys
from typing import Any

from llvmlite import ir as L

I1, I8, I32, I64, F64, F32 = L.IntType(1), L.IntType(8), L.IntType(32), L.IntType(64), L.DoubleType(), L.FloatType()
OBJ = I8.as_pointer()  # PyObject *
ARGS = OBJ.as_pointer()  # PyObject *const *

#: the status the entry hands its handler for arguments it does not take itself
NOT_FAST = -2

#: byte offsets (64-bit CPython, default build; NumPy's PyArrayObject_fields), checked by layout_matches
OB_TYPE = 8
FLOAT_VALUE = 16
ARRAY_DATA, ARRAY_NDIM, ARRAY_DIMS, ARRAY_STRIDES, ARRAY_DESCR = 16, 24, 32, 40, 56
ARRAY_FLAGS = 64
#: NumPy's NPY_ARRAY_WRITEABLE: an array without it (over a `bytes`, a read-only mapping) is never
#: handed to native code here, which could store into it (the ctypes path refuses it to a function
#: that stores into Arrays, so the VM's store raises its error; a function that only reads takes it)
WRITEABLE = 0x0400

#: Noodle's element kinds: NumPy's dtype name, the LLVM type, the size in bytes (a power of two)
ELEMENTS = {"float": ("float64", F64, 8), "int": ("int64", I64, 8), "f32": ("float32", F32, 4),
            "i32": ("int32", I32, 4)}

#: the suffix of an entry's i64 global holding the most elements an Array argument may have for the
#: entry to take the call (more: NOT_FAST); no bound unless a host sets one (see `limit_symbol`)
LIMIT = ".limit"
NO_LIMIT = 2**63 - 1

#: the C API functions the entry calls, under the names the lowered code declares
_PREFIX = "noodle_py_"
_FUNCTIONS: dict[str, tuple[L.Type, list[L.Type]]] = {
    "PyEval_SaveThread": (OBJ, []),
    "PyEval_RestoreThread": (L.VoidType(), [OBJ]),
    "PyLong_AsLongLongAndOverflow": (I64, [OBJ, I32.as_pointer()]),
    "PyLong_FromLongLong": (OBJ, [I64]),
    "PyFloat_FromDouble": (OBJ, [F64]),
    "PyBool_FromLong": (OBJ, [I64]),
    "Py_IncRef": (L.VoidType(), [OBJ]),
    "Py_DecRef": (L.VoidType(), [OBJ]),
    "PyTuple_New": (OBJ, [I64]),
    "PyTuple_SetItem": (I32, [OBJ, I64, OBJ]),
    "PyObject_Vectorcall": (OBJ, [OBJ, ARGS, I64, OBJ]),
    # what `nd_refill` calls to run Python's signal handlers from native code (noodle.backends.llvm.stop)
    "PyGILState_Ensure": (I32, []),
    "PyGILState_Release": (L.VoidType(), [I32]),
    "PyErr_CheckSignals": (I32, []),
    "PyErr_Fetch": (L.VoidType(), [OBJ.as_pointer()] * 3),
    "PyThread_get_thread_ident": (I64, []),
}

#: the main thread's ident (PyThread_get_thread_ident), the one thread Python runs signal handlers
#: in; native code reads it through the symbol `noodle_py_main_thread`
_MAIN_THREAD = ctypes.c_uint64(0)


def _objects() -> dict[str, Any]:
    """The objects whose addresses the entry compares against, under their symbol names."""
    import numpy

    out: dict[str, Any] = {"ndarray": numpy.ndarray, "int_type": int, "float_type": float, "true": True,
                           "false": False, "none": None}
    for kind, (dtype, _, _) in ELEMENTS.items():
        out["dtype_" + kind] = numpy.dtype(dtype)
    return out


def _symbol(name: str) -> str:
    return _PREFIX + name


# ---------------------------------------------------------------- lowering

def _function(m: L.Module, name: str) -> L.Function:
    try:
        return m.get_global(_symbol(name))
    except KeyError:
        ret, args = _FUNCTIONS[name]
        return L.Function(m, L.FunctionType(ret, args), name=_symbol(name))


def run_signal_handlers(m: L.Module, b: L.IRBuilder, pending: L.Value, exc_fields: "list[L.Value]") -> L.Value:
    """On the main thread: clear `pending` (the context's signal field, which other threads leave
    for it), take the GIL, run Python's pending signal handlers, and when one raised,
    move its exception into `exc_fields` (three i64 fields: type, value, traceback); give the GIL
    back.  The i1 result: a handler raised.  On another thread: nothing (false)."""
    main = m.globals.get(_symbol("main_thread"))
    if main is None:
        main = L.GlobalVariable(m, I64, name=_symbol("main_thread"))
        main.linkage = "external"
    fn = b.function
    run, raised_block, done = (fn.append_basic_block(n) for n in ("signals.run", "signals.raised", "signals.done"))
    start = b.block
    on_main = b.icmp_unsigned("==", b.call(_function(m, "PyThread_get_thread_ident"), []), b.load(main))
    b.cbranch(on_main, run, done)
    b.position_at_end(run)
    b.atomic_rmw("xchg", pending, L.Constant(I64, 0), "monotonic")
    state = b.call(_function(m, "PyGILState_Ensure"), [])
    failed = b.icmp_signed("!=", b.call(_function(m, "PyErr_CheckSignals"), []), L.Constant(I32, 0))
    b.cbranch(failed, raised_block, done)
    b.position_at_end(raised_block)
    b.call(_function(m, "PyErr_Fetch"), [b.bitcast(f, OBJ.as_pointer()) for f in exc_fields])
    b.branch(done)
    b.position_at_end(done)
    raised = b.phi(L.IntType(1))
    raised.add_incoming(L.Constant(L.IntType(1), 0), start)
    raised.add_incoming(L.Constant(L.IntType(1), 0), run)
    raised.add_incoming(L.Constant(L.IntType(1), 1), raised_block)
    # the GIL goes back on the paths that took it (a phi cannot call: release after the merge)
    took = b.phi(L.IntType(1))
    took.add_incoming(L.Constant(L.IntType(1), 0), start)
    took.add_incoming(L.Constant(L.IntType(1), 1), run)
    took.add_incoming(L.Constant(L.IntType(1), 1), raised_block)
    held = b.phi(I32)
    held.add_incoming(L.Constant(I32, 0), start)
    held.add_incoming(state, run)
    held.add_incoming(state, raised_block)
    release, after = fn.append_basic_block("signals.release"), fn.append_basic_block("signals.after")
    b.cbranch(took, release, after)
    b.position_at_end(release)
    b.call(_function(m, "PyGILState_Release"), [held])
    b.branch(after)
    b.position_at_end(after)
    return raised


def _object(m: L.Module, name: str) -> L.Value:
    """The address of a Python object (a symbol the linker resolves), as a PyObject *."""
    g = m.globals.get(_symbol(name))
    if g is None:
        g = L.GlobalVariable(m, I8, name=_symbol(name))  # external: resolved by add_symbols
    return g


def _field(b: L.IRBuilder, obj: L.Value, offset: int, ty: L.Type) -> L.Value:
    """The field of type `ty` at `offset` bytes into the object."""
    return b.load(b.bitcast(b.gep(obj, [L.Constant(I64, offset)]), ty.as_pointer()))


def lower_entry(m: L.Module, impl: L.Function, name: str, param_kinds: list[str], result_kinds: list[str]) -> None:
    """Add `name` (a METH_FASTCALL function) that unboxes `param_kinds` ("array:float/2", "int", ...),
    calls `impl` without the GIL and boxes `result_kinds`; see the module's docstring."""
    fn = L.Function(m, L.FunctionType(OBJ, [OBJ, ARGS, I64]), name=name)
    handler, args, nargs = fn.args
    entry = fn.append_basic_block("entry")
    handle = fn.append_basic_block("handle")
    b = L.IRBuilder(entry)
    overflow = b.alloca(I32)  # PyLong_AsLongLongAndOverflow's flag, for every int parameter
    hb = L.IRBuilder(handle)
    status_in = hb.phi(I32, name="status")

    def check(ok: L.Value, label: str) -> None:
        """Go on when `ok`, else hand the call to the handler as NOT_FAST."""
        cont = fn.append_basic_block(label)
        b.cbranch(ok, cont, handle)
        status_in.add_incoming(L.Constant(I32, NOT_FAST), b.block)
        b.position_at_end(cont)

    check(b.icmp_signed("==", nargs, L.Constant(I64, len(param_kinds))), "arity")
    limit = L.GlobalVariable(m, I64, name=name + LIMIT)
    limit.initializer = L.Constant(I64, NO_LIMIT)
    values: list[L.Value] = []
    for k, kind in enumerate(param_kinds):
        obj = b.load(b.gep(args, [L.Constant(I64, k)]))
        if kind.startswith("array:"):
            elem, ndim_text = kind[6:].split("/")
            ndim = int(ndim_text)
            _, ty, size = ELEMENTS[elem]
            ok = b.icmp_unsigned("==", _field(b, obj, OB_TYPE, OBJ), _object(m, "ndarray"))
            check(ok, f"a{k}.type")  # the fields below are an ndarray's only once its type is known
            ok = b.icmp_signed("==", _field(b, obj, ARRAY_NDIM, I32), L.Constant(I32, ndim))
            ok = b.and_(ok, b.icmp_unsigned("==", _field(b, obj, ARRAY_DESCR, OBJ), _object(m, "dtype_" + elem)))
            writeable = b.and_(_field(b, obj, ARRAY_FLAGS, I32), L.Constant(I32, WRITEABLE))
            ok = b.and_(ok, b.icmp_unsigned("!=", writeable, L.Constant(I32, 0)))
            check(ok, f"a{k}.kind")
            dims, strides = _field(b, obj, ARRAY_DIMS, I64.as_pointer()), _field(b, obj, ARRAY_STRIDES, I64.as_pointer())
            lengths, steps = [], []
            misaligned: L.Value = L.Constant(I64, 0)
            for d in range(ndim):
                lengths.append(b.load(b.gep(dims, [L.Constant(I64, d)])))
                stride = b.load(b.gep(strides, [L.Constant(I64, d)]))
                misaligned = b.or_(misaligned, b.and_(stride, L.Constant(I64, size - 1)))
                steps.append(b.ashr(stride, L.Constant(I64, size.bit_length() - 1)))  # exact: checked below
            size = lengths[0]
            for length in lengths[1:]:
                size = b.mul(size, length)
            ok = b.icmp_signed("==", misaligned, L.Constant(I64, 0))
            check(b.and_(ok, b.icmp_signed("<=", size, b.load(limit))), f"a{k}.strides")
            values += [b.bitcast(_field(b, obj, ARRAY_DATA, OBJ), ty.as_pointer()), *lengths, *steps]
        elif kind in ("int", "i32"):
            check(b.icmp_unsigned("==", _field(b, obj, OB_TYPE, OBJ), _object(m, "int_type")), f"p{k}.type")
            v = b.call(_function(m, "PyLong_AsLongLongAndOverflow"), [obj, overflow])
            ok = b.icmp_signed("==", b.load(overflow), L.Constant(I32, 0))
            if kind == "i32":
                ok = b.and_(ok, b.icmp_signed("==", b.sext(b.trunc(v, I32), I64), v))
                v = b.trunc(v, I32)
            check(ok, f"p{k}.value")
            values.append(v)
        elif kind in ("float", "f32"):
            check(b.icmp_unsigned("==", _field(b, obj, OB_TYPE, OBJ), _object(m, "float_type")), f"p{k}.type")
            v = _field(b, obj, FLOAT_VALUE, F64)
            values.append(b.fptrunc(v, F32) if kind == "f32" else v)
        elif kind == "bool":
            is_true = b.icmp_unsigned("==", obj, _object(m, "true"))
            check(b.or_(is_true, b.icmp_unsigned("==", obj, _object(m, "false"))), f"p{k}.type")
            values.append(is_true)
        else:  # pragma: no cover - the plan admits only the kinds above
            raise ValueError(f"no Python entry for a parameter of kind {kind!r}")
    from noodle.backends.llvm.lower import CTX_MAX_DEPTH, CTX_PTR, CTX_STEPS, context_global, ctx_field, status_of

    # the machine's context without limits (the linker set its address; VMs with limits call the
    # ctypes entry): the call depth starts afresh, the steps are a chunk nothing charges (so the
    # call's own step, which native callers charge before a call, cannot use it up)
    ctx = b.inttoptr(b.load(context_global(m)), CTX_PTR)
    left = b.load(ctx_field(b, ctx, CTX_MAX_DEPTH))
    steps = b.sub(b.load(ctx_field(b, ctx, CTX_STEPS)), L.Constant(I64, 1))
    saved = b.call(_function(m, "PyEval_SaveThread"), [])
    r = b.call(impl, [ctx] + values + [left, steps])
    b.call(_function(m, "PyEval_RestoreThread"), [saved])
    status = b.extract_value(r, status_of(r))
    check_block = b.block
    done = fn.append_basic_block("done")
    b.cbranch(b.icmp_signed("==", status, L.Constant(I32, 0)), done, handle)
    status_in.add_incoming(status, check_block)
    b.position_at_end(done)
    b.ret(_box(m, b, r, result_kinds))
    _handle(m, hb, handler, args, nargs, status_in)


def _box(m: L.Module, b: L.IRBuilder, r: L.Value, kinds: list[str]) -> L.Value:
    """The Python value of the results (a new reference; NULL with MemoryError set when out of memory)."""
    if not kinds:
        none = _object(m, "none")
        b.call(_function(m, "Py_IncRef"), [none])
        return none
    boxed = [_box_one(m, b, b.extract_value(r, k), kind) for k, kind in enumerate(kinds)]
    if len(kinds) == 1:
        return boxed[0]
    # an outlined loop's variables, as a tuple; a NULL item (no memory) fails the whole
    null = L.Constant(OBJ, None)
    fail = b.function.append_basic_block("boxfail")
    ok_block = b.function.append_basic_block("boxok")
    any_null: L.Value = L.Constant(I1, 0)
    for item in boxed:
        any_null = b.or_(any_null, b.icmp_unsigned("==", item, null))
    b.cbranch(any_null, fail, ok_block)
    fb = L.IRBuilder(fail)
    for item in boxed:  # Py_DecRef takes NULL
        fb.call(_function(m, "Py_DecRef"), [item])
    fb.ret(null)
    b.position_at_end(ok_block)
    t = b.call(_function(m, "PyTuple_New"), [L.Constant(I64, len(kinds))])
    tuple_ok = b.function.append_basic_block("tupleok")
    b.cbranch(b.icmp_unsigned("==", t, null), fail, tuple_ok)
    b.position_at_end(tuple_ok)
    for k, item in enumerate(boxed):
        b.call(_function(m, "PyTuple_SetItem"), [t, L.Constant(I64, k), item])  # steals the reference
    return t


def _box_one(m: L.Module, b: L.IRBuilder, v: L.Value, kind: str) -> L.Value:
    if kind == "int":
        return b.call(_function(m, "PyLong_FromLongLong"), [v])
    if kind == "i32":
        return b.call(_function(m, "PyLong_FromLongLong"), [b.sext(v, I64)])
    if kind == "float":
        return b.call(_function(m, "PyFloat_FromDouble"), [v])
    if kind == "f32":
        return b.call(_function(m, "PyFloat_FromDouble"), [b.fpext(v, F64)])
    if kind == "bool":
        return b.call(_function(m, "PyBool_FromLong"), [b.zext(v, I64)])
    raise ValueError(f"no Python value for a result of kind {kind!r}")  # pragma: no cover


def _handle(m: L.Module, b: L.IRBuilder, handler: L.Value, args: L.Value, nargs: L.Value, status: L.Value) -> None:
    """`return handler(status, *args)`."""
    null = L.Constant(OBJ, None)
    code = b.call(_function(m, "PyLong_FromLongLong"), [b.sext(status, I64)])
    made, no_memory = b.function.append_basic_block("statusobj"), b.function.append_basic_block("nomemory")
    b.cbranch(b.icmp_unsigned("==", code, null), no_memory, made)
    L.IRBuilder(no_memory).ret(null)
    b.position_at_end(made)
    count = b.add(nargs, L.Constant(I64, 1))
    argv = b.alloca(OBJ, size=count)  # the status, then the arguments as they came
    b.store(code, argv)
    try:
        memcpy = m.get_global("llvm.memcpy.p0i8.p0i8.i64")
    except KeyError:
        memcpy = L.Function(m, L.FunctionType(L.VoidType(), [OBJ, OBJ, I64, I1]), name="llvm.memcpy.p0i8.p0i8.i64")
    b.call(memcpy, [b.bitcast(b.gep(argv, [L.Constant(I64, 1)]), OBJ), b.bitcast(args, OBJ),
                    b.mul(nargs, L.Constant(I64, 8)), L.Constant(I1, 0)])
    r = b.call(_function(m, "PyObject_Vectorcall"), [handler, argv, count, null])
    b.call(_function(m, "Py_DecRef"), [code])
    b.ret(r)


# ---------------------------------------------------------------- linking

_layout: bool | None = None
_added = False


def layout_matches() -> bool:
    """Do live objects have the layout the entries read (checked once per process)?"""
    global _layout
    if _layout is None:
        _layout = _probe()
    return _layout


def _probe() -> bool:
    if sys.implementation.name != "cpython" or ctypes.sizeof(ctypes.c_void_p) != 8 or hasattr(sys, "gettotalrefcount"):
        return False
    if getattr(sys, "_is_gil_enabled", lambda: True)() is False:
        return False  # free-threaded: another object header, and no GIL to release
    try:
        import numpy

        a = numpy.arange(24.0).reshape(4, 6)[1:, ::-2]  # a view: offset data, negative strides
        base = id(a)

        def word(address: int) -> int:
            return ctypes.c_int64.from_address(address).value

        def pointer(address: int) -> int:
            return ctypes.c_void_p.from_address(address).value or 0

        ok = pointer(base + OB_TYPE) == id(numpy.ndarray)
        ok = ok and pointer(base + ARRAY_DATA) == a.__array_interface__["data"][0]
        ok = ok and ctypes.c_int32.from_address(base + ARRAY_NDIM).value == a.ndim
        dims, strides = pointer(base + ARRAY_DIMS), pointer(base + ARRAY_STRIDES)
        ok = ok and [word(dims + 8 * d) for d in range(a.ndim)] == list(a.shape)
        ok = ok and [word(strides + 8 * d) for d in range(a.ndim)] == list(a.strides)
        ok = ok and pointer(base + ARRAY_DESCR) == id(a.dtype) == id(numpy.dtype("float64"))
        frozen = numpy.frombuffer(bytes(16), dtype=numpy.float64)
        ok = ok and ctypes.c_int32.from_address(base + ARRAY_FLAGS).value == a.flags.num
        ok = ok and a.flags.num & WRITEABLE and not frozen.flags.num & WRITEABLE
        ok = ok and ctypes.c_int32.from_address(id(frozen) + ARRAY_FLAGS).value == frozen.flags.num
        x = 2.5 + len(sys.argv)  # a float made now, not a constant
        ok = ok and pointer(id(x) + OB_TYPE) == id(float)
        ok = ok and ctypes.c_double.from_address(id(x) + FLOAT_VALUE).value == x
        n = len(sys.argv) + 1000  # an int made now
        ok = ok and pointer(id(n) + OB_TYPE) == id(int)
        return bool(ok)
    except Exception:  # noqa: BLE001 - any surprise means the ctypes path
        return False


def add_symbols() -> None:
    """Give LLVM the C API functions and the objects the entries name (once per process)."""
    global _added
    if _added:
        return
    import llvmlite.binding as llvm

    for name in _FUNCTIONS:
        llvm.add_symbol(_symbol(name), ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value)
    for name, obj in _objects().items():
        llvm.add_symbol(_symbol(name), id(obj))  # NumPy's types, dtypes and the constants live as long as the process
    import threading

    _MAIN_THREAD.value = threading.main_thread().ident or 0
    llvm.add_symbol(_symbol("main_thread"), ctypes.addressof(_MAIN_THREAD))
    _added = True


class _MethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p), ("ml_flags", ctypes.c_int),
                ("ml_doc", ctypes.c_char_p)]


_METH_FASTCALL = 0x0080
_new_method = ctypes.pythonapi.PyCMethod_New
_new_method.restype = ctypes.py_object
_new_method.argtypes = [ctypes.POINTER(_MethodDef), ctypes.py_object, ctypes.py_object, ctypes.c_void_p]
_keep: list[Any] = []  # method definitions must outlive their functions: as long as the process


def builtin(address: int, name: str, handler: Any) -> Any:
    """A builtin function object calling the entry at `address`, its `self` the handler."""
    definition = _MethodDef(name.encode(), address, _METH_FASTCALL, None)
    _keep.append(definition)
    return _new_method(ctypes.byref(definition), handler, None, None)


class EntryInfo:
    """What `rehandled` needs of a native function: its entry's address, the handler its own builtin
    has, the address of its limit global, and whether a failed call may be re-run (pure)."""

    __slots__ = ("address", "handler", "limit", "pure", "display")

    def __init__(self, address: int, handler: Any, limit: int, pure: bool, display: str) -> None:
        self.address, self.handler, self.limit, self.pure, self.display = address, handler, limit, pure, display


def rehandled(fn: Any, handler: Any, limit: "int | None" = None) -> Any:
    """A builtin over `fn`'s Python entry whose calls it does not finish go to `handler(status,
    *args)` (None when `fn` has no such entry).  `limit` bounds the elements of its Array
    arguments — the entry's one global, so `fn`'s own calls past it take the ctypes way."""
    info: "EntryInfo | None" = getattr(fn, "__noodle_entry__", None)
    if info is None:
        return None
    if info.limit:
        ctypes.c_int64.from_address(info.limit).value = NO_LIMIT if limit is None else max(0, limit)
    return builtin(info.address, info.display, handler)


class NativeFunction:
    """The callable the machine holds for a native function: calls go straight to the entry (the
    subclass's `__call__` is the builtin); attributes name it for stacks and reports."""

    __noodle_native__ = True

    @classmethod
    def make(cls, entry: Any, display: str) -> "NativeFunction":
        return type(f"native {display}", (cls,), {"__call__": entry})()
