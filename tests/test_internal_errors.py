"""A bug in Noodle itself reaches the user as one plain line and exit status 1, never a Python traceback."""
from __future__ import annotations

from pathlib import Path

import pytest

from noodle.tools import cli, run


def test_noodle_run_reports_a_compiler_bug_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.nd").write_text('fn main() { print("hi") }\n')

    def broken(*_args: object, **_kw: object) -> None:
        raise AttributeError("'CallBuiltin' object has no attribute 'a'")

    monkeypatch.setattr(run, "load_program", broken)
    monkeypatch.delenv("NOODLE_TRACEBACK", raising=False)
    assert run.run_file(str(tmp_path / "p.nd")) == 1
    err = capsys.readouterr().err
    assert err.startswith("internal error: AttributeError: 'CallBuiltin' object has no attribute 'a'")
    assert "Traceback" not in err and "NOODLE_TRACEBACK=1" in err


def test_noodlec_reports_a_bug_plainly(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("NOODLE_TRACEBACK", raising=False)

    def command() -> None:
        raise KeyError("x")

    with pytest.raises(SystemExit) as e:
        cli._guarded(command)
    assert e.value.code == 1 and capsys.readouterr().err.startswith("internal error: KeyError: 'x'")
    monkeypatch.setenv("NOODLE_TRACEBACK", "1")  # for whoever fixes it: the traceback on request
    with pytest.raises(KeyError):
        cli._guarded(command)
