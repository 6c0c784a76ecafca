"""Counted loops over arrays, recognised by what they compute: the six loop intents, tried in order.

:func:`noodle.ir.intents.loop_facts.read_loop` reads a loop (or a perfect nest of two) into its
accumulations and stores and checks that its iterations are independent; each recogniser in
:data:`RECOGNISERS` then says whether the facts are its intent (the index of which file
recognises which intent is in :mod:`noodle.ir.intents`).

Only the dot product replaces the loop (with a guarded library variant, noodle.ir.variants);
the others run as written — natively, where LLVM vectorises them (a recognised float sum may be
reassociated) — and the recognition is what `--explain` reports.
"""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.intents import dot, histogram, maps, reduction, scan, stencil
from noodle.ir.intents.loop_facts import LeftAlone, read_loop

#: tried in this order; the first that names the loop wins (a scan is also a sum; a dot also a reduction)
RECOGNISERS = (scan, dot, reduction, histogram, stencil, maps)


def recognise(f: ir.Function, loop: ir.ForRange) -> ir.Stmt | None:
    """Record what `loop` computes on it (`intent`, `note`); returns a replacement (a guarded
    library variant) or None.  Loops nothing like an intent are left untouched."""
    try:
        facts = read_loop(f, loop)
    except LeftAlone as why:
        loop.note = f"no intent: {why}"
        return None
    if facts is None:
        return None
    for recogniser in RECOGNISERS:
        found = recogniser.recognise(facts)
        if found is not None:
            break
    else:
        return None  # stores and sums together: left to the loops, nothing to name
    key, detail = found
    loop.intent, loop.note = key, detail
    for inner in facts.nest[1:]:
        inner.intent = "nested"  # part of the nest just recognised: --explain reports the nest once
    if key == "dot":
        return dot.variant(f, loop)
    return None
