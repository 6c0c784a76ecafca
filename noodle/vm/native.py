"""The one seam where native code plugs into the VM: the only VM module that imports a native backend.

The VM runs every function as translated bytecode; a native backend (today llvmlite,
:mod:`noodle.backends.llvm`) may put machine code in place of some of them.  The image asks here
what of a module can run natively (kept in the image, so a warm start does not ask again), and the
machine asks whether native code is available and links it.  A backend that is missing or fails
only means the VM runs everything: that decision is the caller's, on an exception from here.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def native_part(module: "Any") -> "Any":
    """What of a verified module can run natively (None when nothing); may raise when the backend fails."""
    from noodle.backends.llvm import native_part as plan

    return plan(module)


def available() -> bool:
    """Can this process run native code (llvmlite importable)?"""
    from noodle.backends.llvm import available as llvm_available

    return llvm_available()


def link(native: "Any", displays: "dict[str, str]", fallbacks: "dict[str, Callable[..., Any]]",
         exact: bool) -> "dict[str, Callable[..., Any]]":
    """Machine code for an image's native part: function name -> callable (raises when the JIT fails)."""
    from noodle.backends.llvm import link as llvm_link

    return llvm_link(native, displays, fallbacks, exact=exact)


def opencl_native(name: str, forced: bool, safe: bool, vm_only: bool) -> "Callable[..., Any]":
    """The implementation of an OpenCL dispatch's native (`opencl.run`, `opencl.result`) for a
    machine (noodle.backends.opencl.natives; the device opens on the first dispatch)."""
    from noodle.backends.opencl.natives import bind

    return bind(name, forced=forced, safe=safe, vm_only=vm_only)
