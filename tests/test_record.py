"""The checker's recording hook (noodle.compiler.record), on every example.

Recording changes nothing the compiler produces, and what it records points at the right
characters: every recorded name is written where the record says (a use through an alias
`from m import f as g` excepted), every local's uses lead back to a declaration of the same
name, and every recorded expression span lies inside the source.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from noodle.build.driver import CompileOptions, Project
from noodle.compiler.record import Recorder
from noodle.errors import CompileError
from noodle.ir.printer import print_module

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.nd") if "__noodlecache__" not in p.parts)


def _compile(path: Path, recorder: Recorder | None) -> str | None:
    project = Project(path.parent, CompileOptions(1, False))
    name = project.name_for(path)
    if recorder is not None:
        project.recorders[name] = recorder
    try:
        compiled = project.compile_module(name, path, str(path))
    except CompileError:
        return None
    return print_module(compiled.ir)


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "examples")) for p in EXAMPLES])
def test_recording_changes_nothing_and_points_at_the_names(path: Path) -> None:
    recorder = Recorder()
    assert _compile(path, recorder) == _compile(path, None)
    lines = path.read_text(encoding="utf-8").split("\n")
    here = [o for o in recorder.occurrences if o.file == str(path)]
    declared = {o.symbol: o for o in here if o.definition}
    for o in here:
        written = lines[o.line - 1][o.col - 1:o.col - 1 + o.length]
        assert written.isidentifier(), (o, written)
        if o.symbol[0] == "local":
            decl = declared[o.symbol]  # a local's every use leads back to its declaration
            assert lines[decl.line - 1][decl.col - 1:decl.col - 1 + decl.length] == written, o
        elif o.symbol[0] != "module" and o.length == len(o.symbol[-1].rpartition(".")[2]):
            assert written == o.symbol[-1].rpartition(".")[2], o
    for t in recorder.types:
        if t.span.file == str(path):
            assert 1 <= t.span.line <= t.span.end_line <= len(lines), t
