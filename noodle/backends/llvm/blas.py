"""BLAS called from native code: the recognised contractions (noodle.ir.intents.contraction) run
as calls of the BLAS NumPy uses, made by the LLVM code itself — no Python call, no temporaries.

Which library.  NumPy's wheels carry their own OpenBLAS, built with 64-bit ints (ILP64, symbols
`scipy_dgemm_64_`, ...); SciPy's carry another, with 32-bit ints, which SciPy exports to compiled
code as `scipy.linalg.cython_blas.__pyx_capi__` (the way Numba calls BLAS).  Native code calls
NumPy's when it exports the routines (`library()`): then one OpenBLAS thread pool serves NumPy's
operations and Noodle's calls in a process.  With two libraries there are two pools, and OpenBLAS's
idle threads spin for a while after each call: a threaded call into one library right after a
call into the other had both pools' threads fighting for the cores (PolyBench's MEDIUM gemm, 200 x
220 x 240, alternated with NumPy's: 3.5 ms on SciPy's two threads against 0.37 ms on NumPy's; see
docs/performance.md).  SciPy's library is the fallback (NumPy built against another BLAS).
Either way the routines take the Fortran calling convention (every argument by pointer), and
`add_symbols` gives LLVM their addresses under the names the lowered code declares
(`noodle_blas_dgemm`, ...) before a module using them is linked; with neither library the symbols
are missing and linking fails, which leaves the functions in the VM (whose natives use NumPy).

The lowered code keeps every integer argument in an 8-byte slot whatever the library: an ILP64
library reads all of it, a 32-bit one its first four bytes — the same value on a little-endian
machine, since the guard admits only sizes and strides in 32-bit range.  So the IR (kept in
module images) does not depend on the library found at link time; on a big-endian machine only
an ILP64 library is taken.

Threads.  Before each call the code sets the library's thread count (all the threads
`NOODLE_THREADS` allows from `blas.parallel` multiply-adds, else one) and puts the previous count
back after it: the setting is the library's, shared with NumPy's own calls.

Noodle's arrays are row-major and BLAS is column-major: a row-major matrix is the column-major
matrix of its transpose, so `C = op(A) op(B)` is computed as `Cᵀ = op(B)ᵀ op(A)ᵀ` — the operands
swap, the triangles and sides flip, the leading dimension is the row stride.  The guard
(`blas.fits`) admits arrays whose rows are contiguous (last stride 1), whose row stride covers a
row, whose sizes and strides fit BLAS's 32-bit ints, and whose written arrays share no memory with
the others; everything else runs the loops.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from llvmlite import ir as L

from noodle.backends.llvm.local_arrays import counted_loop

I1, I8, I32, I64, F64 = L.IntType(1), L.IntType(8), L.IntType(32), L.IntType(64), L.DoubleType()
P8, PI, PF = L.PointerType(I8), L.PointerType(I64), L.PointerType(F64)

#: routine -> its argument types (Fortran convention: everything by pointer; ints in 8-byte slots)
SIGNATURES: dict[str, list[L.Type]] = {
    "dgemm": [P8, P8, PI, PI, PI, PF, PF, PI, PF, PI, PF, PF, PI],
    "dgemv": [P8, PI, PI, PF, PF, PI, PF, PI, PF, PF, PI],
    "dger": [PI, PI, PF, PF, PI, PF, PI, PF, PI],
    "dsyrk": [P8, P8, PI, PI, PF, PF, PI, PF, PF, PI],
    "dsyr2k": [P8, P8, PI, PI, PF, PF, PI, PF, PI, PF, PF, PI],
    "dsymm": [P8, P8, PI, PI, PF, PF, PI, PF, PI, PF, PF, PI],
    "dtrmm": [P8, P8, P8, P8, PI, PI, PF, PF, PI, PF, PI],
    "dtrsv": [P8, P8, P8, PI, PF, PI, PF, PI],
    "ddot": [PI, PF, PI, PF, PI],
}
#: routines that return a value (the others return nothing)
RETURNS: dict[str, L.Type] = {"ddot": F64}
#: the status of `dot` of Arrays of different lengths (the VM, re-running the call, says which)
STATUS = {"DotLengths": 27}
ERRORS = {27: ("ValueError", "dot of arrays of different lengths")}
#: the largest int the library takes, and NumPy's chunk for `ddot` (numpy's npy_cblas.h: the
#: whole length with 64-bit ints, CBLAS_INT_MAX / 2 + 1 with 32-bit ones); set by the linker
INT_MAX_GLOBAL, CHUNK_GLOBAL = "nd_blas_int_max", "nd_blas_chunk"
PREFIX = "noodle_blas_"
#: set to 1 by the linker under `--mode safe`: then no guard admits BLAS (its sums add in another order)
EXACT_GLOBAL = "nd_blas_exact"
#: how many threads a BLAS call may use, and from how many multiply-adds (set by the linker)
THREADS_GLOBAL, MIN_GLOBAL = "nd_blas_threads", "nd_blas_min"
#: `int threads(int n)`: sets the library's thread count for the next calls, returns the previous one
THREADS_SYMBOL = PREFIX + "threads"
#: OpenBLAS's setter that returns the previous count (0.3.27 and later)
_SETTER = "openblas_set_num_threads_local"
#: setters that return nothing, each with the getter of the count it sets
_SETTERS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
            ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
            ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
            ("openblas_set_num_threads", "openblas_get_num_threads"),
            ("MKL_Set_Num_Threads", "MKL_Get_Max_Threads"),
            ("bli_thread_set_num_threads", "bli_thread_get_num_threads"))
#: the NumPy extension modules that link NumPy's BLAS (NumPy 2, then 1)
_NUMPY_MODULES = ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath")
#: the names of an ILP64 OpenBLAS's functions: (prefix, suffix) around `dgemm_`, `openblas_get_config`
_ILP64_NAMES = (("scipy_", "64_"), ("", "64_"))
_keep: list[Any] = []  # a ctypes stub handed to LLVM must live as long as the code calling it
_INT32_MAX = 2**31 - 1

_added = False


@dataclass(frozen=True)
class Library:
    """The BLAS native code calls: where each routine is, and its thread-count setter."""

    origin: str  # for reports: "NumPy's OpenBLAS (64-bit ints)", ...
    addresses: dict[str, int]  # routine -> address of its Fortran-convention function
    threads: int  # address of `int threads(int n)` (see THREADS_SYMBOL)
    int_max: int = _INT32_MAX  # the largest int (size, stride) the library takes


_library: "Library | None" = None


def library() -> Library:
    """The BLAS native code calls (found once per process): NumPy's own when it exports the
    routines with 64-bit ints, else SciPy's (ImportError when neither is there)."""
    global _library
    if _library is None:
        _library = _numpy_library() or _scipy_library()
    return _library


def _numpy_library() -> "Library | None":
    """NumPy's bundled OpenBLAS, looked up through the extension module that links it (a handle
    on a module finds the symbols of the libraries it depends on)."""
    import ctypes
    import importlib

    for module_name in _NUMPY_MODULES:
        try:
            handle = ctypes.CDLL(importlib.import_module(module_name).__file__)  # already loaded: no new copy
        except (ImportError, OSError, TypeError):
            continue
        for prefix, suffix in _ILP64_NAMES:
            # a Fortran routine's name takes an underscore before the suffix (`scipy_dgemm_64_`), a C one's not
            found = {name: getattr(handle, f"{prefix}{name}_{suffix}", None) for name in SIGNATURES}
            config = getattr(handle, f"{prefix}openblas_get_config{suffix}", None)
            if not all(found.values()) or config is None:
                continue
            config.restype = ctypes.c_char_p
            if b"USE64BITINT" not in (config() or b""):  # the suffix is a convention: the build says
                continue
            addresses = {name: ctypes.cast(fn, ctypes.c_void_p).value for name, fn in found.items()}
            return Library("NumPy's OpenBLAS (64-bit ints)", addresses,  # type: ignore[arg-type]
                           _thread_setter(addresses["dgemm"]), 2**63 - 1)  # type: ignore[arg-type]
    return None


def _scipy_library() -> Library:
    """SciPy's BLAS, through the capsules `scipy.linalg.cython_blas` exports (32-bit ints)."""
    if sys.byteorder != "little":  # the 8-byte int slots read as 32-bit ints only on little-endian machines
        raise ImportError("SciPy's BLAS takes 32-bit ints, which native code passes only on little-endian machines")
    found = addresses()
    return Library("SciPy's BLAS (32-bit ints)", found, _thread_setter(found["dgemm"]))


def addresses() -> dict[str, int]:
    """Routine -> address of SciPy's BLAS function (raises ImportError without SciPy)."""
    import ctypes

    from scipy.linalg import cython_blas

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    out = {}
    for name in SIGNATURES:
        capsule = cython_blas.__pyx_capi__[name]
        out[name] = get_pointer(capsule, get_name(capsule))
    return out


def _thread_setter(routine_address: int) -> int:
    """The address of an `int threads(int n)` for the library that holds `routine_address` (found
    through dladdr): OpenBLAS's own when it returns the previous count, else a stub around the
    library's setter and getter, else a stub that sets nothing and returns 0 (nothing to put back)."""
    import ctypes

    class DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

    def stub(fn: Any) -> int:
        made = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(fn)
        _keep.append(made)
        return ctypes.cast(made, ctypes.c_void_p).value  # type: ignore[return-value]

    try:
        libc = ctypes.CDLL(None)
        info = DlInfo()
        if libc.dladdr(ctypes.c_void_p(routine_address), ctypes.byref(info)) and info.dli_fname:
            lib = ctypes.CDLL(info.dli_fname.decode())
            own = getattr(lib, _SETTER, None)
            if own is not None:
                return ctypes.cast(own, ctypes.c_void_p).value  # type: ignore[return-value]
            for set_name, get_name in _SETTERS:
                setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
                if setter is not None and getter is not None:
                    setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int

                    def swap(n: int, setter: Any = setter, getter: Any = getter) -> int:
                        previous = getter()
                        setter(n)
                        return previous
                    return stub(swap)
    except (AttributeError, OSError):
        pass
    return stub(lambda _n: 0)


def add_symbols() -> None:
    """Make the BLAS routines known to LLVM under the names lowered code calls (once per process)."""
    global _added
    if _added:
        return
    import llvmlite.binding as llvm

    found = library()
    for name, address in found.addresses.items():
        llvm.add_symbol(PREFIX + name, address)
    llvm.add_symbol(THREADS_SYMBOL, found.threads)
    _added = True


def configure(engine: Any, exact: bool) -> None:
    """Set a linked module's BLAS globals: `--mode safe`, the threads a call may use and from what size."""
    from noodle.backends.llvm import jit
    from noodle.backends.llvm.threads import thread_count
    from noodle.ir import variants

    if exact:
        jit.set_global(engine, EXACT_GLOBAL, 1)
    jit.set_global(engine, THREADS_GLOBAL, thread_count())
    jit.set_global(engine, MIN_GLOBAL, variants.threshold("blas.parallel"))
    int_max = library().int_max
    jit.set_global(engine, INT_MAX_GLOBAL, int_max)
    jit.set_global(engine, CHUNK_GLOBAL, int_max if int_max == 2**63 - 1 else int_max // 2 + 1)


def uses_blas(llvm_ir: str) -> bool:
    return PREFIX in llvm_ir


# ---------------------------------------------------------------- lowering

def _declare(m: L.Module, name: str) -> L.Function:
    try:
        return m.get_global(PREFIX + name)
    except KeyError:
        if name in SIGNATURES:
            return L.Function(m, L.FunctionType(RETURNS.get(name, L.VoidType()), SIGNATURES[name]), name=PREFIX + name)
        return L.Function(m, L.FunctionType(I32, [I32]), name=THREADS_SYMBOL)  # sets, returns the previous


def _global(m: L.Module, name: str, default: int) -> L.GlobalVariable:
    g = m.globals.get(name)
    if g is None:
        g = L.GlobalVariable(m, I64, name=name)
        g.initializer = L.Constant(I64, default)
    return g


def _threads(lw: Any, work: "list[L.Value]", calls: "L.Value | None" = None) -> L.Value:
    """Before a call (or `calls` calls of the same size: a batch): all the threads the linker
    allows when one call's multiply-adds (the product of `work`, in double: it cannot overflow)
    reach the threshold, else the calling thread only.  The work of every call is charged, and
    must fit the deadline, before the first.  Returns the library's previous count, which
    `_restore` puts back after the last call."""
    b = lw.b
    size: L.Value = L.Constant(F64, 1.0)
    for w in work:
        size = b.fmul(size, b.sitofp(w, F64))
    one_call = size
    if calls is not None:
        size = b.fmul(size, b.sitofp(calls, F64))
    # the multiply-adds are work, charged as the VM charges its own (one step per 64) before the call
    steps = b.fdiv(size, L.Constant(F64, 64.0))
    cap = L.Constant(F64, float(1 << 62))
    lw.poll(b.fptosi(b.select(b.fcmp_ordered("<", steps, cap), steps, cap), I64))
    # a call that cannot end by the deadline is not made (it cannot be stopped half-way): the field
    # says -1 then, which tells the meter why the code stopped (noodle.vm.limits.Meter.native_stopped)
    from noodle.backends.llvm.lower import CTX_BLAS, ctx_field  # here: lower imports this module

    allowed = ctx_field(b, lw.ctx, CTX_BLAS)
    budget = b.load(allowed)
    over = b.fcmp_ordered(">", size, b.sitofp(budget, F64))
    b.store(b.select(over, L.Constant(I64, -1), budget), allowed)
    lw.fail_if(over, "Stopped")
    threads = b.load(_global(lw.m, THREADS_GLOBAL, 1))
    least = b.load(_global(lw.m, MIN_GLOBAL, 1 << 62))
    many = b.fcmp_ordered(">=", one_call, b.sitofp(least, F64))
    n = b.select(many, threads, L.Constant(I64, 1))
    return b.call(_declare(lw.m, "threads"), [b.trunc(n, I32)])


def _restore(lw: Any, previous: L.Value) -> None:
    """After a call: the library's thread count as it was (NumPy's next call uses it too); a
    setter that could not say (0) leaves it."""
    b = lw.b
    with b.if_then(b.icmp_signed(">", previous, L.Constant(I32, 0))):
        b.call(_declare(lw.m, "threads"), [previous])


class _Args:
    """Stack slots for one call's by-pointer arguments, made in the function's entry block (a
    call inside a loop must not grow the stack every iteration)."""

    def __init__(self, lw: Any) -> None:
        self.lw = lw
        entry = lw.fn.entry_basic_block
        self.eb = L.IRBuilder(entry)
        self.eb.position_at_start(entry)

    def slot(self, ty: L.Type, value: L.Value) -> L.Value:
        ptr = self.eb.alloca(ty)
        self.lw.b.store(value, ptr)
        return ptr

    def char(self, c: str) -> L.Value:
        return self.slot(I8, L.Constant(I8, ord(c)))

    def int(self, v: L.Value) -> L.Value:
        return self.slot(I64, v)  # 8 bytes whatever the library (see the module's docstring)

    def double(self, v: L.Value) -> L.Value:
        return self.slot(F64, v)


def _size(lw: Any, e: Any) -> L.Value:
    """A loop bound as a BLAS size: negative ranges are empty."""
    v = lw.expr(e)
    zero = L.Constant(I64, 0)
    return lw.b.select(lw.b.icmp_signed("<", v, zero), zero, v)


def _lead(lw: Any, slot: int) -> L.Value:
    """The leading dimension of a row-major array: its row stride (at least 1, as BLAS asks; the
    stride of the next-to-last dimension when the rows of more dimensions are flattened)."""
    _, lengths, strides = lw.array_parts(slot)
    if len(strides) == 1:
        return strides[0]
    one = L.Constant(I64, 1)
    return lw.b.select(lw.b.icmp_signed("<", strides[-2], one), one, strides[-2])


def lower_call(lw: Any, e: Any) -> L.Value:
    """A `blas.*` call of a recognised contraction (its guard has held)."""
    b = lw.b
    routine = e.name.split(".", 1)[1]
    if routine == "gemm_rows":
        return lower_rows(lw, e)
    if routine == "gemm_batch":
        return lower_batch(lw, e)
    flags = e.args[0].value
    args = _Args(lw)

    def data(a: Any) -> L.Value:
        return lw.array_parts(a.slot)[0]

    def lead(a: Any) -> L.Value:
        return args.int(_lead(lw, a.slot))

    def inc(a: Any) -> L.Value:
        return args.int(lw.array_parts(a.slot)[2][0])

    sizes = [_size(lw, x) for x in e.args[1:2 if routine == "trsv" else
                                             3 if routine in ("gemv", "ger", "trmm", "syrk", "syr2k", "symm") else 4]]
    if routine == "trsv":
        sizes = [sizes[0], sizes[0]]
    elif routine in ("syrk", "syr2k"):
        sizes = [sizes[0], sizes[0], sizes[1]]  # n * n * k
    elif routine == "trmm":
        sizes = [sizes[0], sizes[0], sizes[1]] if flags[0] == "L" else [sizes[0], sizes[1], sizes[1]]
    elif routine == "symm":
        sizes = [sizes[0], sizes[1], sizes[0] if flags[0] == "L" else sizes[1]]
    previous = _threads(lw, sizes)
    if routine == "gemm":
        _, m, n, k, alpha, a, bb, beta, c = e.args
        # row-major C = op(A) op(B)  <=>  column-major Cᵀ = op(B)ᵀ op(A)ᵀ
        call = [args.char(flags[1]), args.char(flags[0]), args.int(_size(lw, n)), args.int(_size(lw, m)),
                args.int(_size(lw, k)), args.double(lw.expr(alpha)), data(bb), lead(bb), data(a), lead(a),
                args.double(lw.expr(beta)), data(c), lead(c)]
        name = "dgemm"
    elif routine == "gemv":
        _, m, n, alpha, a, x, beta, y = e.args
        rows, cols = (m, n) if flags == "N" else (n, m)  # a as stored
        call = [args.char("T" if flags == "N" else "N"), args.int(_size(lw, cols)), args.int(_size(lw, rows)),
                args.double(lw.expr(alpha)), data(a), lead(a), data(x), inc(x), args.double(lw.expr(beta)),
                data(y), inc(y)]
        name = "dgemv"
    elif routine == "ger":
        _, m, n, alpha, x, y, a = e.args
        call = [args.int(_size(lw, n)), args.int(_size(lw, m)), args.double(lw.expr(alpha)), data(y), inc(y),
                data(x), inc(x), data(a), lead(a)]
        name = "dger"
    elif routine in ("syrk", "syr2k"):
        uplo, trans = flags[:2]
        head = [args.char("U" if uplo == "L" else "L"), args.char("T" if trans == "N" else "N")]
        if routine == "syrk":
            _, n, k, alpha, a, beta, c = e.args
            operands = [data(a), lead(a)]
        else:
            _, n, k, alpha, a, bb, beta, c = e.args
            operands = [data(a), lead(a), data(bb), lead(bb)]
        call = head + [args.int(_size(lw, n)), args.int(_size(lw, k)), args.double(lw.expr(alpha))] + operands + [
            args.double(lw.expr(beta)), data(c), lead(c)]
        name = "d" + routine
    elif routine == "symm":
        _, m, n, alpha, a, bb, beta, c = e.args
        # row-major C = S B  <=>  column-major Cᵀ = Bᵀ S: the other side, the other triangle
        call = [args.char("R" if flags[0] == "L" else "L"), args.char("U" if flags[1] == "L" else "L"),
                args.int(_size(lw, n)), args.int(_size(lw, m)), args.double(lw.expr(alpha)), data(a), lead(a),
                data(bb), lead(bb), args.double(lw.expr(beta)), data(c), lead(c)]
        name = "dsymm"
    elif routine == "trmm":
        _, m, n, alpha, a, bb = e.args
        side, uplo, trans, diag = flags
        call = [args.char("R" if side == "L" else "L"), args.char("U" if uplo == "L" else "L"), args.char(trans),
                args.char(diag), args.int(_size(lw, n)), args.int(_size(lw, m)), args.double(lw.expr(alpha)),
                data(a), lead(a), data(bb), lead(bb)]
        name = "dtrmm"
    elif routine == "trsv":
        _, n, a, x = e.args
        uplo, trans, diag = flags
        # row-major op(T) x = b  <=>  column-major: the other triangle of Tᵀ, the other transpose
        call = [args.char("U" if uplo == "L" else "L"), args.char("T" if trans == "N" else "N"), args.char(diag),
                args.int(_size(lw, n)), data(a), lead(a), data(x), inc(x)]
        name = "dtrsv"
    else:  # pragma: no cover - the recognisers make only the routines above
        raise ValueError(f"no BLAS routine {e.name}")
    if routine in ("syrk", "syr2k") and flags[2:] == "S":
        _keeping_diagonal(lw, e.args[-1].slot, _size(lw, e.args[1]), lambda: b.call(_declare(lw.m, name), call))
    else:
        b.call(_declare(lw.m, name), call)
    _restore(lw, previous)
    return L.Constant(I1, 0)


def _scratch(lw: Any, count: L.Value, held: tuple[L.Value, ...] = ()) -> L.Value:
    """`count` doubles of calloc'd memory (a MemoryError when there is none); free with `_release`.
    `held`: scratch (or null) the caller already holds, freed before that MemoryError leaves."""
    from noodle.backends.llvm.local_arrays import _libc

    b = lw.b
    zero, one = L.Constant(I64, 0), L.Constant(I64, 1)
    calloc, _ = _libc(lw)
    raw = b.call(calloc, [b.select(b.icmp_signed("<=", count, zero), one, count), L.Constant(I64, 8)])
    failed = b.icmp_unsigned("==", b.ptrtoint(raw, I64), zero)
    if held:
        with b.if_then(failed, likely=False):
            for scratch in held:
                _release(lw, scratch)  # free(NULL) does nothing
    lw.fail_if(failed, "MemoryError")
    return b.bitcast(raw, PF)


def _release(lw: Any, scratch: L.Value) -> None:
    from noodle.backends.llvm.local_arrays import _libc

    lw.b.call(_libc(lw)[1], [lw.b.bitcast(scratch, L.PointerType(I8))])


def _keeping_diagonal(lw: Any, slot: int, n: L.Value, compute: Any) -> None:
    """`compute()` with the first n diagonal elements of array `slot` kept: a strict triangle is
    BLAS's triangle without the diagonal, which is saved to (calloc'd) memory before and put back
    after."""
    b = lw.b
    data, _, strides = lw.array_parts(slot)
    step = b.add(strides[0], strides[1])
    saved = _scratch(lw, n)
    counted_loop(lw, n, "keepdiag", lambda k: b.store(b.load(b.gep(data, [b.mul(k, step)])), b.gep(saved, [k])))
    compute()
    counted_loop(lw, n, "putdiag", lambda k: b.store(b.load(b.gep(saved, [k])), b.gep(data, [b.mul(k, step)])))
    _release(lw, saved)


def lower_batch(lw: Any, e: Any) -> L.Value:
    """`blas.gemm_batch(flags, count, m, n, k, alpha, a, b, beta, c)` (noodle.ir.intents.batched):
    for each slice t < count, `lower_call`'s dgemm on the 2-D slices (data at t times the first
    stride; the leading dimension the row stride, as for any array of 3)."""
    b = lw.b
    flags = e.args[0].value
    count, m, n, k = (_size(lw, x) for x in e.args[1:5])
    alpha, beta = lw.expr(e.args[5]), lw.expr(e.args[8])
    a, bb, c = e.args[6], e.args[7], e.args[9]
    args = _Args(lw)
    previous = _threads(lw, [m, n, k], count)

    def one(t: L.Value) -> None:
        def data(x: Any) -> L.Value:
            base, _, strides = lw.array_parts(x.slot)
            return b.gep(base, [b.mul(t, strides[0])])

        # row-major C = op(A) op(B)  <=>  column-major Cᵀ = op(B)ᵀ op(A)ᵀ (as `lower_call`)
        b.call(_declare(lw.m, "dgemm"), [
            args.char(flags[1]), args.char(flags[0]), args.int(n), args.int(m), args.int(k), args.double(alpha),
            data(bb), args.int(_lead(lw, bb.slot)), data(a), args.int(_lead(lw, a.slot)), args.double(beta),
            data(c), args.int(_lead(lw, c.slot))])

    counted_loop(lw, count, "slices", one)
    _restore(lw, previous)
    return L.Constant(I1, 0)


def lower_rows(lw: Any, e: Any) -> L.Value:
    """`blas.gemm_rows(flags, rows, n, k, alpha, x, m, y, t)` (noodle.ir.intents.batched): one dgemm
    of x's flattened rows into scratch memory, T = alpha * X op(M); then each row into y's, and the
    last into t."""
    b = lw.b
    _, first, n, k, alpha, x, m, y, t = e.args
    flags = e.args[0].value
    args = _Args(lw)
    xdata, xlengths, _ = lw.array_parts(x.slot)
    rows = _size(lw, first)
    for length in xlengths[1:-1]:  # the guard has checked they are y's too, and flatten
        rows = b.mul(rows, length)
    width, depth = _size(lw, n), _size(lw, k)
    previous = _threads(lw, [rows, width, depth])
    one = L.Constant(I64, 1)
    temp = _scratch(lw, b.mul(rows, width))
    # column-major Tᵀ = op(M)ᵀ Xᵀ (see `lower_call`'s gemm)
    b.call(_declare(lw.m, "dgemm"), [
        args.char(flags), args.char("N"), args.int(width), args.int(rows), args.int(depth),
        args.double(lw.expr(alpha)), lw.array_parts(m.slot)[0], args.int(_lead(lw, m.slot)), xdata,
        args.int(_lead(lw, x.slot)), args.double(L.Constant(F64, 0.0)), temp,
        args.int(b.select(b.icmp_signed("<", width, one), one, width))])
    _restore(lw, previous)
    ydata, ystride = lw.array_parts(y.slot)[0], _lead(lw, y.slot)

    def row(r: L.Value) -> None:
        out, src = b.mul(r, ystride), b.mul(r, width)
        counted_loop(lw, width, "rowcopy", lambda p: b.store(b.load(b.gep(temp, [b.add(src, p)])),
                                                       b.gep(ydata, [b.add(out, p)])))

    counted_loop(lw, rows, "rows", row)
    tdata, _, tstrides = lw.array_parts(t.slot)
    last = b.mul(b.sub(rows, one), width)
    count = b.select(b.icmp_signed(">", rows, L.Constant(I64, 0)), width, L.Constant(I64, 0))
    counted_loop(lw, count, "lastrow", lambda p: b.store(b.load(b.gep(temp, [b.add(last, p)])),
                                                   b.gep(tdata, [b.mul(p, tstrides[0])])))
    _release(lw, temp)
    return L.Constant(I1, 0)


def lower_diagonal_nonzero(lw: Any, e: Any) -> L.Value:
    """`blas.diagonal_nonzero(n, a)`: no zero among a[k, k] for k < n (a loop; NaN counts as non-zero,
    as the loops' division by it does not raise)."""
    b = lw.b
    n = _size(lw, e.args[0])
    data, lengths, strides = lw.array_parts(e.args[1].slot)
    step = b.add(strides[0], strides[1])
    # only called after the guard's other conditions: n fits both dimensions
    result = b.alloca(I1)
    b.store(L.Constant(I1, 1), result)
    counter = b.alloca(I64)
    b.store(L.Constant(I64, 0), counter)
    head, body, done = lw.new_block("diag"), lw.new_block("diagbody"), lw.new_block("diagdone")
    b.branch(head)
    b.position_at_end(head)
    k = b.load(counter)
    b.cbranch(b.icmp_signed("<", k, n), body, done)
    b.position_at_end(body)
    value = b.load(b.gep(data, [b.mul(k, step)]))
    nonzero = b.fcmp_unordered("!=", value, L.Constant(F64, 0.0))
    b.store(nonzero, result)
    b.store(b.add(k, L.Constant(I64, 1)), counter)
    b.cbranch(nonzero, head, done)
    b.position_at_end(done)
    return b.load(result)


def lower_fits(lw: Any, e: Any) -> L.Value:
    """`blas.fits(nwritten, arrays...)`: every array in a layout BLAS takes, sizes and strides in
    32-bit range, and each array written sharing no byte with any other array given."""
    b = lw.b
    nwritten = e.args[0].value
    # a parameter's parts, or a local Array's as it is at the guard (noodle.backends.llvm.local_arrays)
    arrays = [lw.array_parts(a.slot) for a in e.args[1:]]
    exact = lw.m.globals.get(EXACT_GLOBAL)
    if exact is None:
        exact = L.GlobalVariable(lw.m, I64, name=EXACT_GLOBAL)
        exact.initializer = L.Constant(I64, 0)
    ok: L.Value = b.icmp_signed("==", b.load(exact), L.Constant(I64, 0))
    zero, one = L.Constant(I64, 0), L.Constant(I64, 1)
    limit = L.Constant(I64, _INT32_MAX)
    spans = []
    for data, lengths, strides in arrays:
        for x in list(lengths) + list(strides):
            ok = b.and_(ok, b.icmp_signed("<=", x, limit))
        if len(lengths) >= 2:
            ok = b.and_(ok, b.icmp_signed("==", strides[-1], one))
            ok = b.and_(ok, b.icmp_signed(">=", strides[-2], lengths[-1]))
            count: L.Value = one  # more dimensions: the rows flatten (each a whole number of the next)
            for d in range(len(lengths) - 2):
                ok = b.and_(ok, b.icmp_signed("==", strides[d], b.mul(lengths[d + 1], strides[d + 1])))
                count = b.mul(count, lengths[d])
            if len(lengths) > 2:
                ok = b.and_(ok, b.icmp_signed("<=", b.mul(count, lengths[-2]), limit))
        else:
            ok = b.and_(ok, b.icmp_signed(">=", strides[0], one))
        # the bytes it spans: [first, last] (nothing when a dimension is empty)
        empty: L.Value = L.Constant(I1, 0)
        reach: L.Value = zero
        for n, s in zip(lengths, strides):
            empty = b.or_(empty, b.icmp_signed("<=", n, zero))
            reach = b.add(reach, b.mul(b.sub(n, one), s))
        first = b.ptrtoint(data, I64)
        last = b.add(first, b.mul(reach, L.Constant(I64, 8)))
        spans.append((empty, first, last))
    for k in range(nwritten):
        e1, f1, l1 = spans[k]
        for e2, f2, l2 in spans[k + 1:]:
            overlap = b.and_(b.icmp_unsigned("<=", f1, l2), b.icmp_unsigned("<=", f2, l1))
            overlap = b.and_(overlap, b.not_(b.or_(e1, e2)))
            ok = b.and_(ok, b.not_(overlap))
    return ok


def lower_dot(lw: Any, e: Any) -> L.Value:
    """`dot(x, y)` of two 1-D float Arrays, computed as `numpy.dot` computes it, so that the bits
    are NumPy's by construction (numpy/_core/src/common/cblasfuncs.c, `cblas_matrixproduct`):

    - lengths that differ: the status DotLengths (the VM, re-running the call, raises its error);
    - no elements: 0.0; one: `x[0] * y[0]` (NumPy's scalar path, which keeps a -0.0);
    - more: an operand NumPy would copy first (`_bad_strides`: a negative or zero stride, data not
      aligned to 8 bytes, a stride past the library's ints) is copied to contiguous memory; then
      `0.0 + ddot(n, x, incx, y, incy)` in NumPy's chunks (`DOUBLE_dot`; one chunk with 64-bit ints).

    The library's thread count is left as it is: NumPy's own calls run with it, and a threaded
    `ddot` adds in another order.  Without a library the function stays in the VM (Unsupported)."""
    from noodle.ir.native_plan import Unsupported

    try:
        library()
    except ImportError as missing:
        raise Unsupported(f"`dot` calls the BLAS NumPy uses, and none is found here ({missing})", e.line) from None
    b = lw.b
    x, y = e.args
    (xdata, (n,), (xs,)), (ydata, (ny,), (ys,)) = lw.array_parts(x.slot), lw.array_parts(y.slot)
    lw.fail_if(b.icmp_signed("!=", n, ny), "DotLengths")
    zero, one, two = L.Constant(I64, 0), L.Constant(I64, 1), L.Constant(I64, 2)
    lw.poll(b.lshr(n, L.Constant(I64, 6)))  # the work, charged as the VM charges its own (one step per 64)
    result = lw.entry_alloca(F64, "dot")
    few, many, done = lw.new_block("dot.few"), lw.new_block("dot.many"), lw.new_block("dot.done")
    b.cbranch(b.icmp_signed("<", n, two), few, many)
    b.position_at_end(few)  # 0 or 1 elements
    single, empty = lw.new_block("dot.one"), lw.new_block("dot.none")
    b.cbranch(b.icmp_signed("==", n, one), single, empty)
    b.position_at_end(single)
    b.store(b.fmul(b.load(xdata), b.load(ydata)), result)
    b.branch(done)
    b.position_at_end(empty)
    b.store(L.Constant(F64, 0.0), result)
    b.branch(done)
    b.position_at_end(many)
    int_max = b.load(_global(lw.m, INT_MAX_GLOBAL, _INT32_MAX))
    args = _Args(lw)

    def operand(data: L.Value, stride: L.Value, name: str, held: tuple[L.Value, ...] = ()) -> tuple[
            L.Value, L.Value, L.Value]:
        """(pointer, increment, scratch to free or null) of an operand as NumPy hands it to BLAS;
        `held`: the other operand's scratch, freed if this one's cannot be had."""
        aligned = b.icmp_unsigned("==", b.and_(b.ptrtoint(data, I64), L.Constant(I64, 7)), zero)
        good = b.and_(aligned, b.and_(b.icmp_signed(">", stride, zero), b.icmp_signed("<=", stride, int_max)))
        before = b.block
        copy, after = lw.new_block(f"dot.copy{name}"), lw.new_block(f"dot.ready{name}")
        b.cbranch(good, after, copy)
        b.position_at_end(copy)
        scratch = _scratch(lw, n, held)
        counted_loop(lw, n, f"dot.copying{name}",
                     lambda k: b.store(b.load(b.gep(data, [b.mul(k, stride)])), b.gep(scratch, [k])))
        copied = b.block
        b.branch(after)
        b.position_at_end(after)
        ptr, inc, own = b.phi(PF), b.phi(I64), b.phi(PF)
        ptr.add_incoming(data, before)
        ptr.add_incoming(scratch, copied)
        inc.add_incoming(stride, before)
        inc.add_incoming(one, copied)
        own.add_incoming(L.Constant(PF, None), before)
        own.add_incoming(scratch, copied)
        return ptr, inc, own

    xp, xinc, xown = operand(xdata, xs, "x")
    yp, yinc, yown = operand(ydata, ys, "y", (xown,))
    chunk = b.load(_global(lw.m, CHUNK_GLOBAL, (_INT32_MAX // 2) + 1))
    total = lw.entry_alloca(F64, "dot.sum")  # 0.0: NumPy's `double sum = 0.`
    b.store(L.Constant(F64, 0.0), total)
    start = lw.entry_alloca(I64, "dot.start")
    b.store(zero, start)
    head, body, end = lw.new_block("dot.chunk"), lw.new_block("dot.chunkbody"), lw.new_block("dot.chunkdone")
    b.branch(head)
    b.position_at_end(head)
    at = b.load(start)
    b.cbranch(b.icmp_signed("<", at, n), body, end)
    b.position_at_end(body)
    left = b.sub(n, at)
    count = b.select(b.icmp_signed("<", left, chunk), left, chunk)
    part = b.call(_declare(lw.m, "ddot"), [args.int(count), b.gep(xp, [b.mul(at, xinc)]), args.int(xinc),
                                           b.gep(yp, [b.mul(at, yinc)]), args.int(yinc)])
    b.store(b.fadd(b.load(total), part), total)
    b.store(b.add(at, count), start)
    b.branch(head)
    b.position_at_end(end)
    b.store(b.load(total), result)
    for own in (xown, yown):
        _release(lw, own)  # free(NULL) does nothing
    b.branch(done)
    b.position_at_end(done)
    return b.load(result)
