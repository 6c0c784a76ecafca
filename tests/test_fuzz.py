"""The fuzz campaigns of noodle.tools.fuzz: a quick run of each here, a long run with `make fuzz`.

Each campaign counts its outcomes and lists findings (an input that broke a promise, with the seed
that rebuilds it); a run with a finding fails.
"""
from __future__ import annotations

import pytest

from noodle.tools import fuzz

pytest.importorskip("llvmlite")

QUICK = {"source": 150, "module": 40, "differential": 6}
LONG = {"source": 5000, "module": 1000, "differential": 150}


@pytest.mark.parametrize("campaign", sorted(QUICK))
def test_a_quick_fuzz_run_finds_nothing(campaign: str) -> None:
    report = fuzz.CAMPAIGNS[campaign](QUICK[campaign], 7, None)
    assert report.tried == QUICK[campaign]
    assert sum(report.outcomes.values()) == report.tried
    assert not report.findings, report.findings


@pytest.mark.slow
@pytest.mark.parametrize("campaign", sorted(LONG))
def test_a_long_fuzz_run_finds_nothing(campaign: str) -> None:
    report = fuzz.CAMPAIGNS[campaign](LONG[campaign], 20261202, None)
    assert report.tried == LONG[campaign] and not report.findings, report.findings


def test_a_finding_is_reported_with_its_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: a compiler that crashes is a finding, named with the input's seed."""
    import noodle.build.driver as driver

    def broken(*_args, **_kwargs):
        raise AttributeError("planted")
    monkeypatch.setattr(driver, "compile_source", broken)
    report = fuzz.source_campaign(3, 1)
    assert report.outcomes["crash"] == 3 and len(report.findings) == 3
    assert "seed" in report.findings[0] and "AttributeError: planted" in report.findings[0]
