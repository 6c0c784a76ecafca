"""The file of variant thresholds measured on this machine: `<cache>/tuning.json`.

`noodle tune` (noodle.tools.tune) measures from which size each guarded variant wins and keeps the
results here, keyed by this machine (CPU, cores, NumPy and llvmlite versions): a measurement holds
only for the machine and libraries it timed.  The entry points hand :func:`load` to the variant
registry (`noodle.ir.variants.measured_by`), which reads it on the first threshold asked for and
keeps only the entries it knows.  A machine never tuned, or a damaged file, means the defaults.
"""
from __future__ import annotations

import os

from noodle.format.cache import read_file, user_cache_root, write_file


#: the file of OpenCL measurements per device (noodle.backends.opencl.selection)
OPENCL_FILE = "opencl-tuning.json"
#: the environment variable naming the OpenCL device, as `platform:device` indices
OPENCL_DEVICE_ENV = "NOODLE_OPENCL_DEVICE"


def machine_key() -> str:
    """What the measurements hold for: this CPU and the libraries whose code is timed."""
    import platform  # here, not at the top: `noodle run` imports this module and rarely calls this

    import numpy

    try:
        import llvmlite
        llvm = llvmlite.__version__
    except ImportError:
        llvm = "none"
    return f"{platform.machine()}|{_cpu_name()}|{os.cpu_count()}|numpy {numpy.__version__}|llvmlite {llvm}"


def _cpu_name() -> str:
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def path() -> str:
    return os.path.join(user_cache_root(), "tuning.json")


def load() -> dict[str, object]:
    """This machine's entry of the file ({} when it was never tuned, or the file is damaged)."""
    import json

    data = read_file(path())
    if data is None:
        return {}
    try:
        stored = json.loads(data)
        entry = stored.get(machine_key()) if isinstance(stored, dict) else None
        if isinstance(entry, dict):
            return entry
    except (ValueError, ImportError):
        pass
    return {}


def store(found: dict[str, int]) -> None:
    """Keep this machine's measurements (other machines' entries stay); OSError when it cannot."""
    import json

    data = read_file(path())
    try:
        stored = json.loads(data) if data is not None else {}
    except ValueError:
        stored = {}
    if not isinstance(stored, dict):
        stored = {}
    stored[machine_key()] = found
    data = json.dumps(stored, indent=2).encode()
    write_file(path(), data)
    if read_file(path()) != data:  # the cache folder is not writable: the measurements are only used now
        raise OSError(f"cannot write {path()}")
