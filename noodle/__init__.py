"""Noodle: a small statically typed language with its own bytecode VM.

The embedding API (see docs/embedding.md)::

    import noodle
    vm = noodle.VM(capabilities=noodle.Capabilities(), limits=noodle.Limits(max_steps=10_000_000))
    app = vm.load("app.nd")
    app.fib(20)

Names are imported on first use, so `import noodle` stays cheap for the command-line tools.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time, and `noodle run` imports this package
    from typing import Any

_EXPORTS = {
    "VM": "noodle.host.embed", "Source": "noodle.host.embed", "UpgradeReport": "noodle.host.embed",
    "ModuleHandle": "noodle.host.embed",
    "Capabilities": "noodle.vm.limits", "Limits": "noodle.vm.limits",
    "NoodleError": "noodle.errors", "CompileError": "noodle.errors", "LoadError": "noodle.errors",
    "LimitExceeded": "noodle.errors", "UpgradeRejected": "noodle.errors",
    "NoodleRuntimeError": "noodle.runtime.errors",
    "__version__": "noodle.version",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'noodle' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
