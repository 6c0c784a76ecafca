"""Histogram: `h[k] += 1` where `k` is read from an array (an increment at a data-dependent position)."""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from noodle.ir.intents.loop_facts import LoopFacts

from noodle.ir import nodes as ir
from noodle.ir.intents.access import index_of, is_local, same_index

def recognise(facts: "LoopFacts") -> tuple[str, str] | None:
    """Every store an increment at a data-dependent position, and no accumulation."""
    if facts.accumulations or not facts.stores:
        return None
    if all(is_histogram_store(store, facts.loop_vars, facts.assigned) for store, _, _ in facts.stores):
        return "histogram", "into " + ", ".join(f"`{facts.names[s.args[0].slot]}`" for s, _, _ in facts.stores)  # type: ignore[attr-defined]
    return None


def is_histogram_store(store: ir.CallBuiltin, loop_vars: list[int], assigned: set[int]) -> bool:
    """`h[k] = h[k] + c` with `k` computed in the iteration (from what it reads): an increment at a
    data-dependent position."""
    value = store.args[-1]
    where = index_of(store, loop_vars, assigned)
    return where == ["data"] and isinstance(value, ir.Binary) and value.op == "int.add" \
        and isinstance(value.a, ir.CallBuiltin) and value.a.name == "array.get" \
        and is_local(value.a.args[0], store.args[0].slot) and same_index(value.a.args[1:], store.args[1:-1]) \
        and isinstance(value.b, ir.Const)
