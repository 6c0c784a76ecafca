"""Scan: a sum whose running value is stored each iteration (`s += x[i]; out[i] = s`)."""
from __future__ import annotations

from noodle.ir.intents.loop_facts import LoopFacts

def recognise(facts: LoopFacts) -> tuple[str, str] | None:
    """The reading found the one store of the running sum right after its update (see loop_facts)."""
    if facts.scan is None:
        return None
    acc, array = facts.scan
    return "scan", f"running sum `{facts.names[acc]}` stored into `{facts.names[array]}`"
