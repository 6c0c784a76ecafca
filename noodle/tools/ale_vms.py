"""The VMs library evolution runs candidates in (ALE does not make VMs: its layer is the embedding
API's sibling, so the tools make them and hand them over)."""
from __future__ import annotations

from typing import Any


def sandbox_vm() -> Any:
    """The VM candidates are validated in: no capabilities, bounded time (per call) and call depth."""
    import noodle

    return noodle.VM(capabilities=noodle.Capabilities(), limits=noodle.Limits(max_seconds=2.0, max_depth=5000))


def plain_vm() -> Any:
    """The VM candidates are benchmarked and served in: no capabilities, no limits (no metering)."""
    import noodle

    return noodle.VM(capabilities=noodle.Capabilities())
