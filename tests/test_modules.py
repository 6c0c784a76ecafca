"""Modules: imports across files, what crosses the boundary, header checks, cycles."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from helpers import HANG_S

NOODLE = str(Path(sys.executable).parent / "noodle")


def run(cwd: Path, file: str) -> subprocess.CompletedProcess:
    return subprocess.run([NOODLE, "run", file], cwd=cwd, capture_output=True, text=True, timeout=HANG_S)


def files(root: Path, **sources: str) -> None:
    for name, text in sources.items():
        path = root.joinpath(*name.split("__")).with_suffix(".nd")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_defaults_and_named_arguments_cross_modules(tmp_path: Path) -> None:
    files(tmp_path,
          shapes="struct P {\n x: float\n y: float = 0.5\n tag: str = \"p\"\n fn sum(self, k: float) -> float "
                 "{ return (self.x + self.y) * k }\n}\nfn scale(p: P, by: float) -> P { return P(p.x * by, p.y * by) }\n",
          main="import shapes as sh\nlet p = sh.P(1)\nprint(p, p.sum(k: 2.0))\nprint(sh.scale(by: 2.0, p: p).x)\n")
    for _ in range(2):  # compiled, then from the cache
        proc = run(tmp_path, "main.nd")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == 'P(x: 1.0, y: 0.5, tag: "p") 3.0\n2.0\n'


def test_struct_reached_through_another_module(tmp_path: Path) -> None:
    files(tmp_path,
          geo="struct V {\n x: int\n fn twice(self) -> int { return self.x * 2 }\n}\n",
          mid="import geo\nfn make(n: int) -> geo.V { return geo.V(n) }\n",
          main="import mid\nlet v = mid.make(21)\nprint(v.x, v.twice())\n")
    for _ in range(2):
        proc = run(tmp_path, "main.nd")
        assert (proc.returncode, proc.stdout) == (0, "21 42\n"), proc.stderr


def test_imported_header_must_match_its_path(tmp_path: Path) -> None:
    files(tmp_path, lib__util='module lib.tools version "1.0.0"\nfn f() -> int { return 1 }\n',
          main="import lib.util\nprint(util.f())\n")
    proc = run(tmp_path, "main.nd")
    assert proc.returncode == 2
    assert "error[E0006]" in proc.stderr and "lib.util" in proc.stderr


def test_matching_header_and_version(tmp_path: Path) -> None:
    files(tmp_path, lib__util='module lib.util version "1.4.2"\nfn f() -> int { return 7 }\n',
          main="import lib.util as u\nprint(u.f())\n")
    proc = run(tmp_path, "main.nd")
    assert (proc.returncode, proc.stdout) == (0, "7\n"), proc.stderr


def test_file_name_that_is_not_an_identifier(tmp_path: Path) -> None:
    files(tmp_path, **{"my-app": "print(\"ok\")\n"})
    for _ in range(2):
        proc = run(tmp_path, "my-app.nd")
        assert (proc.returncode, proc.stdout) == (0, "ok\n"), proc.stderr


def test_import_cycle_is_a_diagnostic(tmp_path: Path) -> None:
    files(tmp_path, a="import b\nfn f() -> int { return 1 }\n", b="import a\nfn g() -> int { return 2 }\n",
          main="import a\nprint(a.f())\n")
    proc = run(tmp_path, "main.nd")
    assert proc.returncode == 2 and "error[E0402]" in proc.stderr and "a -> b -> a" in proc.stderr


def test_assigning_another_modules_variable_is_refused(tmp_path: Path) -> None:
    files(tmp_path, counter="var count = 0\nfn bump() { count += 1 }\n",
          main="import counter\ncounter.bump()\nprint(counter.count)\ncounter.count = 5\n")
    proc = run(tmp_path, "main.nd")
    assert proc.returncode == 2 and "error[E0102]" in proc.stderr
