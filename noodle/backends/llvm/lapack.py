"""LAPACK called from native code: a recognised factorisation (noodle.ir.intents.factorisation)
runs as a call of SciPy's LAPACK made by the LLVM code itself.

SciPy exports its LAPACK as `scipy.linalg.cython_lapack.__pyx_capi__`, one capsule per routine
holding a Fortran-convention function's address, as it exports its BLAS (noodle.backends.llvm.blas,
whose argument slots, scratch memory and thread setting this module shares).  `add_symbols`
gives LLVM those addresses under the names the lowered code declares (`noodle_lapack_dpotrf`).

A row-major matrix is the column-major matrix of its transpose: its lower triangle is LAPACK's
upper one, and A = L Lᵀ row-major is A = Uᵀ U column-major with U = Lᵀ — the same numbers.
"""
from __future__ import annotations

from typing import Any

from llvmlite import ir as L

from noodle.backends.llvm.blas import (F64, I1, I64, P8, PF, PI, _Args, _lead, _release, _restore, _scratch, _size,
                                       _threads)
from noodle.backends.llvm.local_arrays import counted_loop

#: routine -> its argument types (Fortran convention: everything by pointer; ints in 8-byte slots,
#: read as 32-bit ints by SciPy's LAPACK on a little-endian machine: see noodle.backends.llvm.blas)
SIGNATURES: dict[str, list[L.Type]] = {"dpotrf": [P8, PI, PF, PI, PI]}
PREFIX = "noodle_lapack_"

_added = False


def addresses() -> dict[str, int]:
    """Routine -> address of SciPy's LAPACK function (raises ImportError without SciPy)."""
    import ctypes

    from scipy.linalg import cython_lapack

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    out = {}
    for name in SIGNATURES:
        capsule = cython_lapack.__pyx_capi__[name]
        out[name] = get_pointer(capsule, get_name(capsule))
    return out


def add_symbols() -> None:
    """Make the LAPACK routines known to LLVM under the names lowered code calls (once per process)."""
    global _added
    if _added:
        return
    import llvmlite.binding as llvm

    for name, address in addresses().items():
        llvm.add_symbol(PREFIX + name, address)
    _added = True


def uses_lapack(llvm_ir: str) -> bool:
    return PREFIX in llvm_ir


def _declare(m: L.Module, name: str) -> L.Function:
    try:
        return m.get_global(PREFIX + name)
    except KeyError:
        return L.Function(m, L.FunctionType(L.VoidType(), SIGNATURES[name]), name=PREFIX + name)


def lower_potrf(lw: Any, e: Any) -> L.Value:
    """`lapack.potrf(triangle, n, a)`: a's triangle saved (and checked finite), dpotrf on the
    leading n x n block; when it fails, the triangle put back.  True when a holds the factor."""
    b = lw.b
    lower = e.args[0].value == "L"
    n = _size(lw, e.args[1])
    slot = e.args[2].slot
    data, _, strides = lw.array_parts(slot)
    zero, one = L.Constant(I64, 0), L.Constant(I64, 1)
    count = b.sdiv(b.mul(n, b.add(n, one)), L.Constant(I64, 2))
    saved = _scratch(lw, count)
    args = _Args(lw)  # stack slots in the entry block: the call may sit in a loop
    finite = args.slot(I1, L.Constant(I1, 1))
    ok = args.slot(I1, L.Constant(I1, 0))
    at = args.slot(I64, zero)  # the next position in the saved triangle

    def each(visit: Any) -> None:
        """visit(element address, saved address) for every element of the triangle, row by row."""
        b.store(zero, at)

        def row(i: L.Value) -> None:
            first = zero if lower else i
            length = b.add(i, one) if lower else b.sub(n, i)
            base = b.mul(i, strides[0])

            def element(k: L.Value) -> None:
                pos = b.load(at)
                visit(b.gep(data, [b.add(base, b.mul(b.add(first, k), strides[1]))]), b.gep(saved, [pos]))
                b.store(b.add(pos, one), at)

            counted_loop(lw, length, "potrfcol", element)

        counted_loop(lw, n, "potrfrow", row)

    def save(element: L.Value, copy: L.Value) -> None:
        x = b.load(element)
        b.store(x, copy)
        # x - x is 0 for a finite x, NaN for an infinity or a NaN
        b.store(b.and_(b.load(finite), b.fcmp_ordered("==", b.fsub(x, x), L.Constant(F64, 0.0))), finite)

    each(save)
    call, done = lw.new_block("potrf"), lw.new_block("potrfdone")
    b.cbranch(b.load(finite), call, done)
    b.position_at_end(call)
    third = b.sdiv(n, L.Constant(I64, 3))
    previous = _threads(lw, [n, n, b.select(b.icmp_signed("<", third, one), one, third)])
    info = args.slot(I64, L.Constant(I64, 0))  # a 32-bit LAPACK writes its low half: 0 stays 0
    # row-major lower triangle = column-major upper
    b.call(_declare(lw.m, "dpotrf"), [args.char("U" if lower else "L"), args.int(n), data,
                                      args.int(_lead(lw, slot)), info])
    _restore(lw, previous)
    factored = b.icmp_signed("==", b.load(info), L.Constant(I64, 0))
    b.store(factored, ok)
    restore, fine = lw.new_block("potrfrestore"), lw.new_block("potrfok")
    b.cbranch(factored, fine, restore)
    b.position_at_end(restore)
    each(lambda element, copy: b.store(b.load(copy), element))
    b.branch(fine)
    b.position_at_end(fine)
    b.branch(done)
    b.position_at_end(done)
    _release(lw, saved)
    return b.load(ok)
