"""Array accesses in a loop body, as the loop recognisers read them.

An index is read as (loop variable, constant offset), as None when the loop does not vary it, or
as "data" when it depends on what the loop reads or computes.  Shared by the reading of a loop
(:mod:`.loop_facts`) and the recognisers that look at positions (histogram, stencil, dot).
"""
from __future__ import annotations

from typing import Union

from noodle.ir import nodes as ir
from noodle.ir.printer import expr_text
from noodle.ir.walk import walk

#: an index of an access: (loop variable slot, constant offset), or None for one the loop does not vary
Offset = Union[tuple[int, int], None]


def is_local(e: ir.Expr, slot: int) -> bool:
    return isinstance(e, ir.LocalGet) and e.slot == slot


def is_const(e: ir.Expr, value: object) -> bool:
    return isinstance(e, ir.Const) and e.value == value and not isinstance(e.value, bool)


def offset(e: ir.Expr, loop_vars: list[int], assigned: set[int]) -> Offset | str:
    """An index as (loop variable, constant offset); None when the loop does not vary it; "data"
    when it depends on what the loop reads or computes."""
    if isinstance(e, ir.LocalGet) and e.slot in loop_vars:
        return (e.slot, 0)
    if isinstance(e, ir.Binary) and e.op in ("int.add", "int.sub") and isinstance(e.a, ir.LocalGet) \
            and e.a.slot in loop_vars and isinstance(e.b, ir.Const) and isinstance(e.b.value, int):
        return (e.a.slot, e.b.value if e.op == "int.add" else -e.b.value)
    if any((isinstance(n, ir.LocalGet) and (n.slot in loop_vars or n.slot in assigned))
           or (isinstance(n, ir.CallBuiltin) and n.name == "array.get") for n in walk(e)):
        return "data"
    return None


def index_of(access: ir.CallBuiltin, loop_vars: list[int], assigned: set[int]) -> list[Offset | str]:
    args = access.args[1:-1] if access.name == "array.set" else access.args[1:]
    return [offset(x, loop_vars, assigned) for x in args]


def same_index(a: list[ir.Expr], b: list[ir.Expr]) -> bool:
    """The same index expressions (compared as printed: positions in the source differ)."""
    return len(a) == len(b) and all(expr_text(x) == expr_text(y) for x, y in zip(a, b))
