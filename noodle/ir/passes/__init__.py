"""The pass manager: the optimisation pipeline is the list in :data:`PIPELINES`, run by one loop.

A pass is registered under a name, with the sentence `--emit ir` and the docs use for it.  A
*function pass* (`@register`) rewrites one function and says whether it changed it; a *module
pass* (`@register_module`) rewrites the whole module — it may add functions (outlined loops,
chunks of a split nest) — and says how many things it changed.  Both kinds are listed in the
same pipeline and run by the same loop; in debug runs (`NOODLE_VERIFY_IR=1`) the IR verifier
checks every function after every pass, so a pass that breaks the IR is named at once.

The pipelines, per optimisation level:

    -O0   (nothing: the IR as the checker lowered it)
    -O1   fold, dce, ranges, intents, outline, parallel
    -O2   fold, dce, fold, ranges, intents, outline, parallel

`run_passes(..., observe=f)` calls `f(name, module)` after each pass: `noodlec --emit ir-passes`
and the golden IR tests (tests/golden/ir/) print the IR after every pass with it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from noodle.ir import nodes as ir

FunctionPass = Callable[[ir.Function], bool]
ModulePass = Callable[[ir.Module], int]


@dataclass(frozen=True, slots=True)
class Pass:
    """One named pass: exactly one of `function` (per function: changed?) and `module` (how many changes)."""

    name: str
    doc: str
    function: FunctionPass | None = None
    module: ModulePass | None = None

    def apply(self, m: ir.Module) -> int:
        """Run over `m`; how many functions (function pass) or things (module pass) it changed."""
        if self.module is not None:
            return self.module(m)
        assert self.function is not None
        return sum(1 for f in m.functions if self.function(f))


PASSES: dict[str, Pass] = {}

#: the modules that register the passes (imported on the first run, not at start-up)
PASS_MODULES = ("fold", "dce", "ranges", "intents", "outline", "parallel")

#: the passes per optimisation level, in order; a level above 2 runs level 2's
PIPELINES: dict[int, list[str]] = {
    0: [],
    1: ["fold", "dce", "ranges", "intents", "outline", "parallel"],
    2: ["fold", "dce", "fold", "ranges", "intents", "outline", "parallel"],
}


def register(name: str, doc: str) -> Callable[[FunctionPass], FunctionPass]:
    """Register a function pass: `run(f) -> bool` rewrites one function, True when it changed it."""
    def deco(fn: FunctionPass) -> FunctionPass:
        PASSES[name] = Pass(name, doc, function=fn)
        return fn
    return deco


def register_module(name: str, doc: str) -> Callable[[ModulePass], ModulePass]:
    """Register a module pass: `run(module) -> int` rewrites the module, returning how many changes."""
    def deco(fn: ModulePass) -> ModulePass:
        PASSES[name] = Pass(name, doc, module=fn)
        return fn
    return deco


def pipeline(level: int) -> list[Pass]:
    """The passes an optimisation level runs, in order."""
    import importlib

    for name in PASS_MODULES:
        importlib.import_module(f"noodle.ir.passes.{name}")  # registration
    return [PASSES[name] for name in PIPELINES.get(level, PIPELINES[2])]


def run_passes(module: ir.Module, level: int,
               observe: Callable[[str, ir.Module], None] | None = None,
               offload: "frozenset[str]" = frozenset(), offload_report: "list | None" = None) -> dict[str, int]:
    """Run the level's pipeline over `module`; returns how many changes each pass made (when any).

    `offload`: the intents whose recognised nests get an OpenCL dispatch, by the `offload` pass
    right after `intents` (noodle.ir.kernels; it runs only when some intent is offered, or when
    `offload_report` asks, for `--explain`, what each recognised nest's kernel would be)."""
    from noodle.ir.verify import IRError, verify_module

    debug = os.environ.get("NOODLE_VERIFY_IR") == "1"
    changed: dict[str, int] = {}
    passes = pipeline(level)
    if "intents" in [p.name for p in passes] and (offload or offload_report is not None):
        from noodle.ir.kernels import offload_module

        at = [p.name for p in passes].index("intents") + 1
        passes.insert(at, Pass("offload", "recognised nests wrapped in OpenCL dispatches (noodle.ir.kernels)",
                               module=lambda m: offload_module(m, offload, offload_report)))
    for p in passes:
        count = p.apply(module)
        if count:
            changed[p.name] = changed.get(p.name, 0) + count
        if debug:
            try:
                verify_module(module)
            except IRError as e:
                raise IRError(f"after pass {p.name!r}: {e}") from None
        if observe is not None:
            observe(p.name, module)
    return changed
