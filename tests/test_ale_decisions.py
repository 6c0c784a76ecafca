"""Evolution's decision on speed, without measuring speed: a margin no candidate can reach.

test_ale.py runs evolution with `margin=0` so that a busy machine's timings never decide its
tests; here the rule itself is checked: a candidate whose measured speedup is under the margin is
rejected, with the figures in its reason, whatever the machine measured.
"""
from __future__ import annotations

import math
from dataclasses import replace

from noodle.ale.evolve import evolve
from noodle.ale.registry import Registry
from noodle.tools.ale_vms import plain_vm, sandbox_vm
from test_ale import FAST, db_of, project, run_program  # noqa: F401 - project is a fixture


def test_a_candidate_under_the_speed_margin_is_rejected_as_not_faster(project) -> None:  # noqa: F811
    root, lib, _ = project
    run_program(root, lib)
    report = evolve(db_of(root), sandbox_vm, plain_vm, replace(FAST, margin=math.inf))
    states = {s.name: (s.state, s.detail) for s in report.steps}
    for name in ("alelib.integrate", "alelib.steps", "alelib.scaled"):
        state, detail = states[name]
        assert state == "rejected" and detail.startswith("not faster: ") and detail.endswith("(needs infx)"), detail
    with Registry(db_of(root)) as reg:
        rejected = {c.name: c for c in reg.candidates() if c.state == "rejected"}
        assert {"alelib.integrate", "alelib.steps", "alelib.scaled"} <= set(rejected)
        c = rejected["alelib.steps"]
        assert c.speedup is not None and c.benchmark is not None
        assert [a.to_state for a in reg.audit(c.id)] == ["proposed", "validated", "rejected"]
