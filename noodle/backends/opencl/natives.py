"""The VM natives of an OpenCL dispatch (noodle.ir.kernels): `opencl.run` and `opencl.result`.

They are declared with the other natives (noodle.stdlib.arrays, for the verifier) and bound here
by the VM (noodle.vm.machine) when a module calls them.  Importing this module costs nothing:
pyopencl is imported, and the device opened, on the first dispatch.
"""
from __future__ import annotations

from typing import Any, Callable

from noodle.ir.kernels import RESULT, RUN_REASSOC


def _never(*_args: Any) -> bool:
    return False


def bind(name: str, forced: bool, safe: bool, vm_only: bool) -> Callable[..., Any]:
    """The implementation of native `name` for a machine: forced (`--backend opencl`: whatever the
    size), under `--mode safe` (no reassociating kernel), or with everything in the VM (none)."""
    if name == RESULT:
        return _result
    if vm_only or (safe and name == RUN_REASSOC):
        return _never
    from noodle.backends.opencl import selection

    def run(spec: str, *values: Any) -> bool:
        from noodle.backends.opencl.runtime import runtime

        rt = runtime()
        if rt is None:
            return False
        return rt.run(spec, values, forced, None if forced else selection.thresholds(rt.info))
    return run


def _result(k: int) -> Any:
    from noodle.backends.opencl.runtime import runtime

    rt = runtime()
    assert rt is not None  # only a successful run is followed by its results
    return rt.result(k)
