"""The compiled-module cache: images reused, damaged entries rebuilt, changes seen transitively."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from helpers import HANG_S

NOODLE = str(Path(sys.executable).parent / "noodle")


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NOODLE, "run", *args], cwd=cwd, capture_output=True, text=True, timeout=HANG_S)


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_second_run_links_the_cached_image(tmp_path: Path) -> None:
    write(tmp_path / "app.nd", 'fn main() { print("hi {1 + 2}") }\n')
    assert run(tmp_path, "app.nd").stdout == "hi 3\n"
    image = tmp_path / "__noodlecache__" / "app.nbi"
    assert image.is_file() and (tmp_path / "__noodlecache__" / "app.nbc").is_file()
    before = image.stat().st_mtime_ns
    assert run(tmp_path, "app.nd").stdout == "hi 3\n"
    assert image.stat().st_mtime_ns == before


def test_damaged_image_is_rebuilt_not_loaded(tmp_path: Path) -> None:
    write(tmp_path / "app.nd", "print(6 * 7)\n")
    run(tmp_path, "app.nd")
    image = tmp_path / "__noodlecache__" / "app.nbi"
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0xFF
    image.write_bytes(bytes(data))
    proc = run(tmp_path, "app.nd")
    assert proc.returncode == 0 and proc.stdout == "42\n", proc.stderr
    assert image.read_bytes() != bytes(data)


def test_source_change_invalidates(tmp_path: Path) -> None:
    write(tmp_path / "app.nd", "print(1)\n")
    assert run(tmp_path, "app.nd").stdout == "1\n"
    write(tmp_path / "app.nd", "print(2)\n")
    assert run(tmp_path, "app.nd").stdout == "2\n"


def test_change_two_imports_away_is_seen(tmp_path: Path) -> None:
    write(tmp_path / "k.nd", "fn val() -> int { return 1 }\n")
    write(tmp_path / "mid.nd", "import k\nfn get() { return k.val() }\n")
    write(tmp_path / "top.nd", "import mid\nprint(mid.get() + 1)\n")
    assert run(tmp_path, "top.nd").stdout == "2\n"
    # mid.nd is unchanged, but its export now has another type: top must be checked again
    write(tmp_path / "k.nd", 'fn val() -> str { return "x" }\n')
    proc = run(tmp_path, "top.nd")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "error[E0205]" in proc.stderr


def test_other_optimisation_levels_do_not_use_the_cache(tmp_path: Path) -> None:
    write(tmp_path / "app.nd", "print(3)\n")
    proc = subprocess.run([NOODLE, "run", "-O0", "app.nd"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=HANG_S)
    assert proc.stdout == "3\n"
    assert not (tmp_path / "__noodlecache__").exists()


def test_read_only_tree_runs_without_cache(tmp_path: Path) -> None:
    write(tmp_path / "app.nd", "print(5)\n")
    os.chmod(tmp_path, 0o555)
    try:
        proc = run(tmp_path, "app.nd")
    finally:
        os.chmod(tmp_path, 0o755)
    assert proc.returncode == 0 and proc.stdout == "5\n"


def test_a_warm_start_imports_no_compiler(tmp_path: Path) -> None:
    """Start-up is part of the product: with a valid cache, `noodle run` links images only."""
    write(tmp_path / "app.nd", 'import math\nfn main() { print("hi", math.sqrt(4.0)) }\n')
    assert run(tmp_path, "app.nd").stdout == "hi 2.0\n"
    probe = ("import sys\nfrom noodle.tools.cli import main\nsys.argv = ['noodle', 'run', 'app.nd']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "heavy = ('noodle.compiler', 'noodle.vm.translate', 'noodle.vm.verify', 'msgspec', 'lark', 'click',"
             " 'rich', 'dataclasses', 'typing')\n"
             "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S)
    assert proc.stdout.splitlines() == ["hi 2.0", "[]"], proc.stdout + proc.stderr


def test_the_fingerprint_changes_when_llvmlite_appears(tmp_path, monkeypatch) -> None:
    """An image built without llvmlite has no native part: installing it must invalidate the cache."""
    from noodle.format import hashing

    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert hashing._backend_libraries() == ["llvmlite:absent"]
    (tmp_path / "llvmlite").mkdir()
    (tmp_path / "llvmlite" / "__init__.py").write_text("")
    assert hashing._backend_libraries()[0].startswith("llvmlite:") and \
        hashing._backend_libraries() != ["llvmlite:absent"]
