"""The llvmlite JIT: optimise for the host CPU, cache machine code on disk, hand back callables.

Pipeline (llvmlite >= 0.45 has only the new pass manager): a target machine
for the host CPU and its features, `PipelineTuningOptions(speed_level=3)`
with loop and SLP vectorisation, the module pass manager of a
`PassBuilder`.  MCJIT's object cache keeps the machine code in
`~/.cache/noodle/native/` (or `$NOODLE_CACHE_DIR/native/`), keyed by the
LLVM IR text, the CPU name and features and the llvmlite version, so a
second run pays no compilation.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from typing import Any, Callable

from noodle.format.cache import read_file, user_cache_root, write_file

_lock = threading.Lock()
_target: Any = None
_engines: list[Any] = []  # machine code must outlive every callable made from it


def _target_machine() -> Any:
    global _target
    import llvmlite.binding as llvm

    if _target is None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        target = llvm.Target.from_default_triple()
        _target = target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                               features=llvm.get_host_cpu_features().flatten(),
                                               opt=3, jit=True)
    return _target


def cache_dir() -> str:
    return os.path.join(user_cache_root(), "native")


def cache_key(llvm_ir: str) -> str:
    import llvmlite
    import llvmlite.binding as llvm

    # the layout names the target the code was optimised for (code from before it was set differs)
    text = "\n".join([llvm_ir, llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten(),
                      llvmlite.__version__, llvm.get_default_triple(), str(_target_machine().target_data)])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


_symbols_added = False
_keep: list[Any] = []  # ctypes stubs handed to LLVM must outlive every engine


def _runtime_symbols() -> None:
    """The C functions native code may call (POSIX threads, for the pool that runs loop nests
    split across cores: noodle.backends.llvm.pool).

    Where the process has none (no pthreads), stubs say a thread could not be started, and
    the calling thread runs every range itself."""
    global _symbols_added
    if _symbols_added:
        return
    import llvmlite.binding as llvm

    from noodle.backends.llvm.pool import LIBC

    _symbols_added = True
    names = [name for name, _, _ in LIBC]
    try:
        libc = ctypes.CDLL(None)
        addresses = {n: ctypes.cast(getattr(libc, n), ctypes.c_void_p).value for n in names}
    except (AttributeError, OSError):  # no POSIX threads: every split runs on the calling thread
        addresses = {}
        for n in names:
            # pthread_create answers EAGAIN (no thread); the rest succeed doing nothing
            stub = ctypes.CFUNCTYPE(ctypes.c_int)(lambda *_, _a=11 if n == "pthread_create" else 0: _a)
            _keep.append(stub)
            addresses[n] = ctypes.cast(stub, ctypes.c_void_p).value
    for n, address in addresses.items():
        llvm.add_symbol(n, address)
    # the C library's math functions under private names, and the allocator of Array locals
    from noodle.backends.llvm import mathlib

    for n, address in mathlib.addresses().items():
        llvm.add_symbol(n, address)
    libc = ctypes.CDLL(None)
    for n in ("calloc", "free"):
        llvm.add_symbol(n, ctypes.cast(getattr(libc, n), ctypes.c_void_p).value)
    from noodle.backends.llvm import pyentry

    pyentry.add_symbols()  # the C API and the objects native functions' Python entries use


def set_global(engine: Any, name: str, value: int) -> None:
    """Set an i64 global of a compiled module (when it has one)."""
    import ctypes

    address = engine.get_global_value_address(name)
    if address:
        ctypes.c_int64.from_address(address).value = value


def optimise(module: Any) -> None:
    import llvmlite.binding as llvm

    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(_target_machine(), pto)
    pm = pb.getModulePassManager()
    pm.run(module, pb)


def compile_ir(llvm_ir: str) -> tuple[Any, bool]:
    """JIT-compile LLVM IR text; returns (engine, whether the machine code came from the disk cache)."""
    import llvmlite.binding as llvm

    with _lock:
        tm = _target_machine()
        key = cache_key(llvm_ir)
        path = os.path.join(cache_dir(), key + ".o")
        cached = read_file(path)
        mod = llvm.parse_assembly(llvm_ir)
        # the image's IR is target-neutral; without the host's layout LLVM assumes 4-byte-aligned i64s
        mod.triple = tm.triple
        mod.data_layout = str(tm.target_data)
        mod.verify()
        if cached is None:
            optimise(mod)
        _runtime_symbols()
        from noodle.backends.llvm import blas
        if blas.uses_blas(llvm_ir):
            blas.add_symbols()  # NumPy's BLAS (else SciPy's), which recognised contractions call
        from noodle.backends.llvm import vecmath
        if vecmath.symbol("") in llvm_ir:
            vecmath.add_symbols()  # `@vector_math` functions' math: libm's, and libmvec's variants
        from noodle.backends.llvm import lapack
        if lapack.uses_lapack(llvm_ir):
            lapack.add_symbols()  # SciPy's LAPACK, which recognised factorisations call
        engine = llvm.create_mcjit_compiler(mod, tm)

        def notify(_module: Any, data: bytes) -> None:
            write_file(path, data)

        def getbuffer(_module: Any) -> bytes | None:
            return cached

        engine.set_object_cache(notify, getbuffer)
        engine.finalize_object()
        _engines.append(engine)
        return engine, cached is not None


def function(engine: Any, symbol: str, params: list[str], ret: str) -> Callable[..., int]:
    """A ctypes callable for a native function `i32 symbol(params..., ret* out)`."""
    ctypes_of = {"int": ctypes.c_int64, "float": ctypes.c_double, "bool": ctypes.c_bool, "i32": ctypes.c_int32,
                 "f32": ctypes.c_float}
    argtypes: list[Any] = []
    for p in params:
        if p.startswith("array:"):  # data address, each dimension's length, each stride
            ndim = int(p[6:].split("/")[1])
            # the address as a plain integer: building a typed ctypes pointer per call costs ~2 us more
            argtypes += [ctypes.c_void_p] + [ctypes.c_int64] * (2 * ndim)
        else:
            argtypes.append(ctypes_of[p])
    argtypes.append(ctypes.c_int64)  # the address of the call's context (noodle.backends.llvm.stop)
    for kind in (ret.split(",") if ret and ret != "none" else []):  # one result pointer per value returned
        argtypes.append(ctypes.POINTER(ctypes.c_int8 if kind == "bool" else ctypes_of[kind]))
    proto = ctypes.CFUNCTYPE(ctypes.c_int32, *argtypes)
    return proto(engine.get_function_address(symbol))
