"""The layers of the code base, bottom to top: the order tests/test_layers.py enforces.

Each row is a list of *units* (a module or a package, named by its dotted path).  A module may
import from its own unit and from units in rows below its row; never from a row above, and never
from a sibling unit in its own row.  Every import counts: top-level and function-local,
absolute and relative.  A module belongs to the unit with the longest matching name; a module
that matches no unit is an error (place it in a row here when you add it).  docs/architecture.md
explains each row.

This module is data only (a leaf): it imports nothing.
"""
from __future__ import annotations

#: rows, bottom (0) to top; the row's comment says what it holds
LAYERS: list[list[str]] = [
    # leaves: the error family, types, the version, the grammar's text, this table, room for deep recursion
    ["noodle.errors", "noodle.ir.types", "noodle.version", "noodle.grammar", "noodle.layers", "noodle.deepstack"],
    # run-time values and error values (what running code is made of)
    ["noodle.runtime"],
    # the module-file format: opcodes, .nbc layout, structural limits, hashes, cache and tuning files
    ["noodle.format"],
    # the typed IR: nodes, walk, printer, verifier, variant registry, nests, native plan, intents, passes
    ["noodle.ir"],
    # the prelude and standard modules (natives)
    ["noodle.stdlib"],
    # the front end and the backends: siblings that never import each other
    ["noodle.compiler", "noodle.backends"],
    # the VM: loader + verifier, translation, images, machine, limits, the native seam
    ["noodle.vm"],
    # source -> module file: the driver and Project
    ["noodle.build"],
    # hosts of the VM: the embedding API (noodle.VM, live upgrade), and later ALE and parallel
    ["noodle.host", "noodle.ale", "noodle.parallel"],
    # the package's public face (`import noodle`: lazy names from the rows below)
    ["noodle"],
    # the tools: cli, run, repl, watch, tune
    ["noodle.tools"],
]


def unit_of(module: str) -> str | None:
    """The unit a dotted module name belongs to (longest match; the root only by its own name)."""
    best: str | None = None
    for row in LAYERS:
        for unit in row:
            if module == unit or (unit != "noodle" and module.startswith(unit + ".")):
                if best is None or len(unit) > len(best):
                    best = unit
    return best


def row_of(unit: str) -> int:
    """The row of a unit (0 is the bottom)."""
    return next(i for i, row in enumerate(LAYERS) if unit in row)
