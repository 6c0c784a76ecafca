"""Which OpenCL device kernels run on: `NOODLE_OPENCL_DEVICE=platform:device`, else the best one found.

"Best": a GPU before an accelerator before a CPU, one with double precision before one without,
then the most compute units.  No device is not an error: pyopencl may be missing, or find no
platform, or the variable may name a device that is not there — then no OpenCL variant is
offered and :func:`choose` says why (`noodlec --explain` shows it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from noodle.format.thresholds import OPENCL_DEVICE_ENV as ENV

#: the environment variable naming a device, as `platform:device` indices (`noodle tune --show` lists them):
#: ENV, from noodle.format.thresholds


@dataclass(frozen=True)
class DeviceInfo:
    """What kernels and the tuner need to know of a device."""

    platform: str
    name: str
    kind: str  # "gpu", "cpu", "accelerator", "other"
    fp64: bool
    int64_atomics: bool
    max_work_group: int
    local_mem: int  # bytes
    compute_units: int
    index: str  # "platform:device"
    version: str  # the driver's version

    @property
    def key(self) -> str:
        """What measurements on this device are kept under (noodle tune)."""
        return f"{self.platform}|{self.name}|{self.version}"

    def describe(self) -> str:
        fp64 = "fp64" if self.fp64 else "no fp64: float (64-bit) kernels are not offered"
        return f"{self.name} ({self.platform}, {self.kind}, {self.compute_units} compute units, {fp64}) [{self.index}]"


@dataclass(frozen=True)
class Choice:
    """The device chosen, or why there is none."""

    device: Any  # a pyopencl Device, or None
    info: DeviceInfo | None
    reason: str  # why there is no device ("" when there is one)


def _info(cl: Any, d: Any, p_index: int, d_index: int) -> DeviceInfo:
    kind = ("gpu" if d.type & cl.device_type.GPU else "accelerator" if d.type & cl.device_type.ACCELERATOR
            else "cpu" if d.type & cl.device_type.CPU else "other")
    extensions = d.extensions.split()
    return DeviceInfo(platform=d.platform.name.strip(), name=d.name.strip(), kind=kind,
                      fp64=bool(d.double_fp_config) or "cl_khr_fp64" in extensions,
                      int64_atomics="cl_khr_int64_base_atomics" in extensions,
                      max_work_group=int(d.max_work_group_size), local_mem=int(d.local_mem_size),
                      compute_units=int(d.max_compute_units), index=f"{p_index}:{d_index}",
                      version=d.driver_version.strip())


def devices() -> "tuple[list[tuple[Any, DeviceInfo]], str]":
    """Every device of every platform, and why there are none (pyopencl missing, no platform)."""
    try:
        import pyopencl as cl
    except ImportError:
        return [], "pyopencl is not installed (pip install 'pyopencl[pocl]' brings a CPU implementation)"
    try:
        platforms = cl.get_platforms()
    except Exception as e:  # noqa: BLE001 - the ICD loader found nothing: pyopencl raises its own errors
        return [], f"no OpenCL platform ({type(e).__name__}: {e})"
    out = []
    for p_index, p in enumerate(platforms):
        try:
            found = p.get_devices()
        except Exception:  # noqa: BLE001 - a platform without devices
            continue
        out += [(d, _info(cl, d, p_index, d_index)) for d_index, d in enumerate(found)]
    return out, "" if out else "no OpenCL device on any platform"


_RANK = {"gpu": 0, "accelerator": 1, "cpu": 2, "other": 3}


def choose(setting: str | None = None) -> Choice:
    """The device named by `setting` (default: $NOODLE_OPENCL_DEVICE), else the best available."""
    setting = os.environ.get(ENV, "") if setting is None else setting
    found, why = devices()
    if not found:
        return Choice(None, None, why)
    if setting.strip():
        for d, info in found:
            if info.index == setting.strip():
                return Choice(d, info, "")
        listed = ", ".join(f"{i.index} {i.name}" for _, i in found)
        return Choice(None, None, f"{ENV}={setting!r} names no device (there are: {listed})")
    d, info = min(found, key=lambda x: (_RANK[x[1].kind], not x[1].fp64, -x[1].compute_units))
    return Choice(d, info, "")
