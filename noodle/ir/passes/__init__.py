"""The pass manager: named IR passes, each reporting whether it changed anything.

Passes run per function.  At each optimisation level the driver runs the
listed passes in order; in debug runs (`NOODLE_VERIFY_IR=1`) the IR verifier
runs between passes.  New passes (inlining, intent recognition) register here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from noodle.ir import nodes as ir


@dataclass(frozen=True, slots=True)
class Pass:
    name: str
    run: Callable[[ir.Function], bool]
    doc: str


PASSES: dict[str, Pass] = {}


def register(name: str, doc: str) -> Callable[[Callable[[ir.Function], bool]], Callable[[ir.Function], bool]]:
    def deco(fn: Callable[[ir.Function], bool]) -> Callable[[ir.Function], bool]:
        PASSES[name] = Pass(name, fn, doc)
        return fn
    return deco


#: Module passes (they add or remove functions), run after the function passes from level 1.
MODULE_PASSES = ["intents", "offload", "outline", "parallel"]

#: Passes per optimisation level.
PIPELINES: dict[int, list[str]] = {0: [], 1: ["fold", "dce", "ranges"], 2: ["fold", "dce", "fold", "ranges"]}


def run_passes(module: ir.Module, level: int, offload: "frozenset[str]" = frozenset(),
               offload_report: "list | None" = None) -> dict[str, int]:
    """Run the level's pipeline over every function; returns how many functions each pass changed.

    `offload`: the intents whose recognised nests get an OpenCL dispatch (noodle.ir.kernels);
    `offload_report` receives each recognised nest's kernel or why it has none (--explain)."""
    from noodle.ir.passes import dce, fold_pass, ranges  # noqa: F401  (registration)
    from noodle.ir.verify import verify_function

    debug = os.environ.get("NOODLE_VERIFY_IR") == "1"
    changed: dict[str, int] = {}
    for name in PIPELINES.get(level, PIPELINES[2]):
        p = PASSES[name]
        for f in module.functions:
            if p.run(f):
                changed[name] = changed.get(name, 0) + 1
            if debug:
                verify_function(f)
    if level >= 1:
        from noodle.ir.passes.intents import recognise_module
        from noodle.ir.passes.outline import outline_module
        found = recognise_module(module)
        if found:
            changed["intents"] = found
        from noodle.ir.kernels import offload_module
        offloaded = offload_module(module, offload, offload_report)
        if offloaded:
            changed["offload"] = offloaded
        moved = outline_module(module)
        if moved:
            changed["outline"] = moved
        from noodle.ir.passes.outline import native_ready
        from noodle.ir.passes.parallel import parallel_module
        split = parallel_module(module, native_ready(module))
        if split:
            changed["parallel"] = split
        if debug:
            for f in module.functions:
                verify_function(f)
    return changed
