"""When an OpenCL variant is chosen: measured per device by `noodle tune`, kept in the user's cache.

For each intent, `noodle tune` times the OpenCL variant (transfers included) against the
variant that runs otherwise (native code through LLVM, or BLAS) at growing sizes, and keeps the
smallest size from which OpenCL wins at every larger size measured — or `NEVER`.  The table
lives in `<cache>/opencl-tuning.json`, per device (platform, device, driver version), with the
`NOODLE_OPENCL_DEVICE` setting that chose it, so the compiler can tell which intents to offer
without opening the device (no pyopencl import on the compile path).

The documented default, where nothing was measured for the device chosen: no OpenCL variant is
offered (a device's crossover cannot be guessed; a slow kernel costs more than a missed one).
`noodle run --backend opencl` offers every intent, whatever its size.
"""
from __future__ import annotations

import json
import os
from typing import Any

from noodle.backends.opencl.device import ENV, DeviceInfo
from noodle.format.cache import read_file, user_cache_root, write_file
from noodle.format.thresholds import OPENCL_FILE

#: a size no array reaches: the variant is never chosen
NEVER = 1 << 62


def path() -> str:
    return os.path.join(user_cache_root(), OPENCL_FILE)


def _load() -> dict[str, Any]:
    if not os.path.exists(path()):  # (the common case, on the start-up path of `noodle run`)
        return {}
    data = read_file(path())
    if data is None:
        return {}
    try:
        stored = json.loads(data)
    except ValueError:
        return {}
    return stored if isinstance(stored, dict) else {}


def _entry(stored: dict[str, Any], setting: str) -> "dict[str, Any] | None":
    chosen = stored.get("chosen", {})
    key = chosen.get(setting) if isinstance(chosen, dict) else None
    entry = stored.get("devices", {}).get(key) if isinstance(key, str) and isinstance(stored.get("devices"), dict) else None
    return entry if isinstance(entry, dict) else None


def measured(setting: "str | None" = None) -> "dict[str, Any] | None":
    """The measurements for the device `setting` chose (default: $NOODLE_OPENCL_DEVICE), or None."""
    return _entry(_load(), os.environ.get(ENV, "") if setting is None else setting)


def offered(backend: "str | None" = None) -> frozenset[str]:
    """The intents the compiler wraps in an OpenCL dispatch: every one under `--backend opencl`,
    none under `--backend vm`, else those measured faster on OpenCL at some size here."""
    from noodle.ir.kernels import OFFLOADABLE

    backend = os.environ.get("NOODLE_BACKEND", "auto") if backend is None else backend
    if backend == "opencl":
        return frozenset(OFFLOADABLE)
    if backend != "auto":
        return frozenset()
    entry = measured()
    if entry is None:
        return frozenset()
    intents = entry.get("intents", {})
    return frozenset(k for k, v in intents.items() if isinstance(v, dict) and type(v.get("threshold")) is int
                     and v["threshold"] < NEVER)


def thresholds(info: DeviceInfo) -> dict[str, int]:
    """Per intent, the fewest elements from which OpenCL wins on this device (missing: never)."""
    entry = _load().get("devices", {}).get(info.key)
    if not isinstance(entry, dict):
        return {}
    return {k: v["threshold"] for k, v in entry.get("intents", {}).items()
            if isinstance(v, dict) and type(v.get("threshold")) is int}


def store(info: DeviceInfo, setting: str, intents: dict[str, dict[str, Any]]) -> None:
    """Keep one device's measurements (and that `setting` chooses it)."""
    stored = _load()
    devices = stored.setdefault("devices", {})
    devices[info.key] = {"device": info.describe(), "intents": intents}
    stored.setdefault("chosen", {})[setting] = info.key
    data = json.dumps(stored, indent=2, sort_keys=True).encode()
    write_file(path(), data)
    if read_file(path()) != data:
        raise OSError(f"cannot write {path()}")
