"""Reductions: only accumulations: sum, product, min, max, count (`n += 1` under an `if`)."""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.intents.access import is_const
from noodle.ir.intents.loop_facts import Accumulation, LoopFacts
from noodle.ir.native_plan import float_reductions

def recognise(facts: LoopFacts) -> tuple[str, str] | None:
    """Only accumulations: named by the first, each listed (a float sum LLVM may reassociate says so)."""
    if not facts.accumulations or facts.stores:
        return None
    name = facts.names
    floats = float_reductions(facts.body)
    parts = [f"{kind(a)} into `{name[a.stmt.slot]}`" + (" under an if-filter" if a.filtered else "")
             + (" (reassociated, vectorisable)" if id(a.stmt) in floats else "") for a in facts.accumulations]
    return kind(facts.accumulations[0]), ", ".join(parts)


def kind(a: Accumulation) -> str:
    """The reduction's name; `n += 1` under a filter counts."""
    v = a.stmt.value
    counts = a.kind == "sum" and a.filtered and isinstance(v, ir.Binary) and is_const(v.b, 1)
    return "count" if counts else a.kind
