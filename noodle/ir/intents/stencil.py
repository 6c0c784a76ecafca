"""Stencil: a map reading an input at fixed offsets (`a[i - 1, j] + a[i + 1, j] + ...`)."""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.intents.access import index_of
from noodle.ir.intents.loop_facts import LoopFacts
from noodle.ir.printer import expr_text
from noodle.ir.walk import walk

def recognise(facts: LoopFacts) -> tuple[str, str] | None:
    """Only stores, some input read at several positions with nonzero offsets."""
    if facts.accumulations or not facts.stores:
        return None
    shape = stencil_shape(facts.body, facts.stores, facts.loop_vars, facts.assigned)
    if shape is None:
        return None
    points, dims = shape
    return "stencil", f"{points}-point {dims}-D neighbourhood, into {targets(facts)}"


def targets(facts: LoopFacts) -> str:
    """The arrays a loop stores into, for messages."""
    return ", ".join(sorted({f"`{facts.names[s.args[0].slot]}`" for s, _, _ in facts.stores}))  # type: ignore[attr-defined]


def stencil_shape(body: list[ir.Stmt], stores: list[tuple[ir.CallBuiltin, int, int]], loop_vars: list[int],
                  assigned: set[int]) -> tuple[int, int] | None:
    """(points, dimensions) of the neighbourhood a map reads of one input — the distinct positions it
    reads, and along how many of the input's dimensions they differ — when some lie at nonzero
    offsets; else None.  Of several inputs, the one read at the most positions.

    A position is told apart by every index, including those the loop does not vary: in the j-k
    nest of a 3-D stencil, `a[i - 1, j, k]` and `a[i + 1, j, k]` are two points, not one.
    """
    written = {s.args[0].slot for s, _, _ in stores}  # type: ignore[attr-defined]
    best: tuple[int, int] | None = None
    reads: dict[int, set[tuple]] = {}
    for s in body:
        for n in walk(s):
            if isinstance(n, ir.CallBuiltin) and n.name == "array.get" and isinstance(n.args[0], ir.LocalGet) \
                    and n.args[0].slot not in written:
                forms = index_of(n, loop_vars, assigned)
                reads.setdefault(n.args[0].slot, set()).add(tuple(
                    ("fixed", expr_text(x)) if form is None else form for x, form in zip(n.args[1:], forms)))
    for positions in reads.values():
        if not any(o is not None and o != "data" and o[0] != "fixed" and o[1] != 0
                   for p in positions for o in p):  # type: ignore[index]
            continue
        dims = sum(1 for k in range(len(next(iter(positions)))) if len({p[k] for p in positions}) > 1)
        if best is None or len(positions) > best[0]:
            best = (len(positions), dims)
    return best
