"""The pass pipeline is its list: every pass registered is in a pipeline and runs in its order,
module passes alongside function passes, with the IR verifier after each one in debug runs."""
from __future__ import annotations

import pytest

from noodle.build.driver import compile_source
from noodle.ir import nodes as ir
from noodle.ir import passes
from noodle.ir.verify import IRError

SOURCE = ("fn main() {\n var hits = 0\n for i in 0..1000 { if i % 3 == 0 { hits += 1 } }\n print(hits)\n}\n"
          "fn scale(a: Array<float>, b: Array<float>) { for i in 0..len(a) { b[i] = a[i] * 2.0 } }\n")


def test_every_registered_pass_is_in_a_pipeline_and_every_listed_pass_exists() -> None:
    passes.pipeline(1)  # imports the pass modules
    listed = {name for names in passes.PIPELINES.values() for name in names}
    assert listed == set(passes.PASSES)
    assert all((p.function is None) != (p.module is None) for p in passes.PASSES.values())
    assert {p.name for p in passes.PASSES.values() if p.module} == {"intents", "outline", "parallel"}


@pytest.mark.parametrize("level", [0, 1, 2])
def test_the_passes_run_in_the_listed_order(level: int) -> None:
    seen: list[str] = []
    compile_source(SOURCE, "p.nd", "p", opt_level=level, observe_passes=lambda name, m: seen.append(name))
    assert seen == [""] + passes.PIPELINES[level]


def test_a_pass_that_breaks_the_ir_is_named_in_debug_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def corrupt(f: ir.Function) -> bool:
        f.body.append(ir.Break(line=1, col=1))  # a break outside any loop
        return True

    passes.pipeline(1)
    monkeypatch.setitem(passes.PASSES, "dce", passes.Pass("dce", "broken on purpose", function=corrupt))
    monkeypatch.setenv("NOODLE_VERIFY_IR", "1")
    with pytest.raises(IRError, match="after pass 'dce'"):
        compile_source(SOURCE, "p.nd", "p")
    monkeypatch.setenv("NOODLE_VERIFY_IR", "0")
    compile_source(SOURCE, "p.nd", "p")  # without the verifier the broken IR goes through unnoticed


def test_changes_are_counted_per_pass() -> None:
    module_ir, _ = compile_source(SOURCE, "p.nd", "p", opt_level=0)
    changed = passes.run_passes(module_ir, 1)
    assert changed.get("outline") == 1 and changed.get("parallel") == 1 and changed.get("intents", 0) >= 0
