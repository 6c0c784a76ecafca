"""When an OpenCL variant is chosen: measured per device by `noodle tune`, kept in the user's cache.

For each intent, `noodle tune` times the OpenCL variant (transfers included) against the
variant that runs otherwise (native code through LLVM, or BLAS) at growing sizes, and keeps the
smallest size from which OpenCL wins at every larger size measured — or `NEVER`.  The table
lives in `<cache>/opencl-tuning.json`, per device (platform, device, driver version), with the
`NOODLE_OPENCL_DEVICE` setting that chose it, so the compiler can tell which intents to offer
without opening the device (no pyopencl import on the compile path).

Where nothing was measured for the device chosen, the documented defaults (:data:`DEFAULTS`) by
the kind of device it is:

    a GPU or an accelerator   the intents whose work grows faster than the data a call moves
                              (matrix product from 128x128x128, Jacobi sweeps from a 256x256 grid),
                              from the sizes where a discrete GPU's launch and PCIe copies are paid
                              back; the others (maps, reductions, scans, ...: one pass over data
                              that must cross the bus) from 16M elements
    a CPU device (PoCL)       nothing: the same cores run native code through LLVM without the
                              driver's launches, bounds flags and round trips (docs/performance.md
                              measured PoCL 2-150x slower than the native loops here)

The kind of the device a setting chooses is kept in the same file (`seen`) the first time the
device is opened (by a dispatch, `noodle tune`, or the compile-time :func:`probe`), so compiling
a program asks the OpenCL driver at most once per cache.  `noodle run --backend opencl` offers
every intent, whatever its size.
"""
from __future__ import annotations

import json
import os

from noodle.format.cache import read_file, user_cache_root, write_file
from noodle.format.thresholds import OPENCL_DEVICE_ENV as ENV
from noodle.format.thresholds import OPENCL_FILE

# (`noodle run` asks `offered` on every start: this module imports nothing heavier than json)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from noodle.backends.opencl.device import DeviceInfo

#: a size no array reaches: the variant is never chosen
NEVER = 1 << 62

#: the smallest work (elements; multiply-adds for gemm and gemv; grid points per sweep for jacobi)
#: from which an intent's kernel is chosen where nothing was measured, by device kind (missing: never)
_GPU_DEFAULTS = {"gemm": 1 << 21, "jacobi": 1 << 16, **{intent: 1 << 24 for intent in (
    "map", "stencil", "sum", "product", "min", "max", "count", "dot", "scan", "histogram", "gemv")}}
DEFAULTS: dict[str, dict[str, int]] = {"gpu": _GPU_DEFAULTS, "accelerator": _GPU_DEFAULTS, "cpu": {}, "other": {}}


#: how much faster OpenCL must measure to be chosen at a size: differences within it are the noise
#: of a shared machine, and a tie goes to what runs without a device
MARGIN = 0.1


def decide(rows: "list[list[float]] | list[tuple[float, ...]]") -> int:
    """The threshold kept for one intent from its measurements, rows of (elements, OpenCL seconds,
    otherwise seconds, ...) by growing size: the smallest size from which OpenCL measured faster
    by the margin at that size and every larger one (0 when from the smallest measured), else
    NEVER.  So no size measured at or past the threshold had OpenCL slower."""
    best = NEVER
    for row in sorted(rows, key=lambda r: r[0], reverse=True):
        n, t_cl, t_alt = int(row[0]), float(row[1]), float(row[2])
        if not t_cl * (1.0 + MARGIN) < t_alt:  # (a NaN time never wins)
            break
        best = n
    if best != NEVER and best == min(int(r[0]) for r in rows):
        return 0
    return best


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
    backend = os.environ.get("NOODLE_BACKEND", "auto") if backend is None else backend
    if backend == "opencl":
        from noodle.ir.kernels import OFFLOADABLE
        return frozenset(OFFLOADABLE)
    if backend != "auto":
        return frozenset()
    setting = os.environ.get(ENV, "")
    stored = _load()
    entry = _entry(stored, setting)
    if entry is None:  # nothing measured: the defaults of the device's kind
        kind = seen_kind(setting, stored)
        if kind is None:
            kind = probe(setting)
        return frozenset(k for k, n in DEFAULTS.get(kind or "", {}).items() if n < NEVER)
    intents = entry.get("intents", {})
    return frozenset(k for k, v in intents.items() if isinstance(v, dict) and type(v.get("threshold")) is int
                     and v["threshold"] < NEVER)


def thresholds(info: DeviceInfo) -> dict[str, int]:
    """Per intent, the fewest elements from which OpenCL wins on this device (missing: never):
    measured by `noodle tune`, else the defaults of its kind."""
    found = measured_thresholds(info)
    return dict(DEFAULTS.get(info.kind, {})) if found is None else found


def measured_thresholds(info: DeviceInfo) -> "dict[str, int] | None":
    """What `noodle tune` measured on this device, per intent, or None where it has not run."""
    entry = _load().get("devices", {}).get(info.key)
    if not isinstance(entry, dict):
        return None
    return {k: v["threshold"] for k, v in entry.get("intents", {}).items()
            if isinstance(v, dict) and type(v.get("threshold")) is int}


def seen_kind(setting: str, stored: "dict[str, Any] | None" = None) -> "str | None":
    """The kind of device `setting` chose when a device was last opened ("" for none), or None
    where no device was looked for yet."""
    seen = (_load() if stored is None else stored).get("seen", {})
    kind = seen.get(setting) if isinstance(seen, dict) else None
    return kind if isinstance(kind, str) else None


def remember(setting: str, info: "DeviceInfo | None") -> None:
    """Keep the kind of device `setting` chooses ("" for none), for the next compile's defaults."""
    stored = _load()
    kind = info.kind if info is not None else ""
    if seen_kind(setting, stored) == kind:
        return
    stored.setdefault("seen", {})[setting] = kind
    try:
        _write(stored)
    except OSError:
        pass  # a read-only cache: the next compile asks the driver again


def probe(setting: str) -> str:
    """Open the OpenCL driver once to learn the kind of device `setting` chooses ("" for none), and
    keep it (:func:`remember`).  Without pyopencl nothing is kept: installing it later is seen."""
    from noodle.backends.opencl.device import choose

    try:
        import pyopencl  # noqa: F401
    except ImportError:
        return ""
    choice = choose(setting)
    remember(setting, choice.info)
    return choice.info.kind if choice.info is not None else ""


def _write(stored: dict[str, Any]) -> None:
    data = json.dumps(stored, indent=2, sort_keys=True).encode()
    write_file(path(), data)
    if read_file(path()) != data:
        raise OSError(f"cannot write {path()}")


def store(info: DeviceInfo, setting: str, intents: dict[str, dict[str, Any]]) -> None:
    """Keep one device's measurements (and that `setting` chooses it)."""
    stored = _load()
    devices = stored.setdefault("devices", {})
    devices[info.key] = {"device": info.describe(), "intents": intents}
    stored.setdefault("chosen", {})[setting] = info.key
    stored.setdefault("seen", {})[setting] = info.kind
    _write(stored)
