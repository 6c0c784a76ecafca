"""Stencil: a map reading an input at fixed offsets (`a[i - 1, j] + a[i + 1, j] + ...`)."""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.intents.access import index_of
from noodle.ir.intents.loop_facts import LoopFacts
from noodle.ir.walk import walk

def recognise(facts: LoopFacts) -> tuple[str, str] | None:
    """Only stores, some input read at several positions with nonzero offsets."""
    if facts.accumulations or not facts.stores:
        return None
    points = stencil_points(facts.body, facts.stores, facts.loop_vars, facts.assigned)
    if not points:
        return None
    return "stencil", f"{points}-point neighbourhood, into {targets(facts)}"


def targets(facts: LoopFacts) -> str:
    """The arrays a loop stores into, for messages."""
    return ", ".join(sorted({f"`{facts.names[s.args[0].slot]}`" for s, _, _ in facts.stores}))  # type: ignore[attr-defined]


def stencil_points(body: list[ir.Stmt], stores: list[tuple[ir.CallBuiltin, int, int]], loop_vars: list[int],
                    assigned: set[int]) -> int:
    """How many distinct positions a map reads of one input, when some are at nonzero offsets; else 0."""
    written = {s.args[0].slot for s, _, _ in stores}  # type: ignore[attr-defined]
    best = 0
    reads: dict[int, set[tuple]] = {}
    for s in body:
        for n in walk(s):
            if isinstance(n, ir.CallBuiltin) and n.name == "array.get" and isinstance(n.args[0], ir.LocalGet) \
                    and n.args[0].slot not in written:
                reads.setdefault(n.args[0].slot, set()).add(tuple(index_of(n, loop_vars, assigned)))
    for positions in reads.values():
        if any(o is not None and o != "data" and o[1] != 0 for p in positions for o in p):  # type: ignore[index]
            best = max(best, len(positions))
    return best
