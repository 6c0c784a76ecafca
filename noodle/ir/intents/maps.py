"""Map: only stores, each element written from the same position of the inputs."""
from __future__ import annotations

from noodle.ir.intents.loop_facts import LoopFacts
from noodle.ir.intents.stencil import targets

def recognise(facts: LoopFacts) -> tuple[str, str] | None:
    """Only stores (the reading already checked each writes a new element from its own position)."""
    if facts.accumulations or not facts.stores:
        return None
    return "map", f"into {targets(facts)}"
