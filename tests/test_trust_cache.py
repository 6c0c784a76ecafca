"""Cache images run only when this user's toolchain wrote them (keyed with the user's secret)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from helpers import HANG_S, compile_ok
from noodle.format import hashing
from noodle.vm import user_key
from noodle.format.hashing import source_hash
from noodle.vm.image import build_image

NOODLE = str(Path(sys.executable).parent / "noodle")
APP = "print(6 * 7)\n"


def run(cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NOODLE_CACHE_DIR=str(cache))
    return subprocess.run([NOODLE, "run", "app.nd"], cwd=cwd, capture_output=True, text=True, timeout=HANG_S, env=env)


def fresh_fingerprint(monkeypatch: pytest.MonkeyPatch) -> str:
    """The toolchain fingerprint as a process started now computes it (from the package files' mtimes).

    This process computed its own once, at its first use; files of the package that changed since (a
    merge into the checkout while the suite runs, an edit) give the `noodle` started by `run` another
    one, and it then rightly refuses an image this process keyed with the old one. So the images
    here are keyed with the fingerprint of the moment, and a run is repeated when it changed meanwhile.
    """
    monkeypatch.setattr(hashing, "_fingerprint", None)
    return hashing.toolchain_fingerprint()


def run_with_image(cwd: Path, cache: Path, image: Path, make: "Callable[[], bytes]",
                   monkeypatch: pytest.MonkeyPatch) -> subprocess.CompletedProcess:
    """`run` with the cache image `make()` gives, made and run under one toolchain fingerprint."""
    for _ in range(5):
        before = fresh_fingerprint(monkeypatch)
        image.write_bytes(make())
        proc = run(cwd, cache)
        if fresh_fingerprint(monkeypatch) == before:
            return proc
    pytest.fail("the package's files kept changing during five runs")


def crafted_image(cache: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """An image of another program claiming to be app.nd's, signed with the key of `cache`'s owner."""
    monkeypatch.setenv("NOODLE_CACHE_DIR", str(cache))
    user_key.forget()
    try:
        image = build_image(compile_ok('print("not the program you wrote")\n', "app")[1])
        image.source_hash = source_hash(APP)
        data = image.dumps()
    finally:
        user_key.forget()
    assert data is not None
    return data


def test_an_image_someone_else_wrote_is_a_cache_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    (tmp_path / "app.nd").write_text(APP)
    assert run(tmp_path, mine).stdout == "42\n"
    image = tmp_path / "__noodlecache__" / "app.nbi"
    # a checkout someone else prepared
    proc = run_with_image(tmp_path, mine, image, lambda: crafted_image(theirs, monkeypatch), monkeypatch)
    assert proc.returncode == 0 and proc.stdout == "42\n", proc.stderr
    assert image.read_bytes() != crafted_image(theirs, monkeypatch)  # rebuilt with this user's key


def test_an_image_signed_with_this_users_key_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The control of the test above: the same bytes under this user's key do run (the key is what refuses)."""
    mine = tmp_path / "mine"
    (tmp_path / "app.nd").write_text(APP)
    assert run(tmp_path, mine).stdout == "42\n"
    image = tmp_path / "__noodlecache__" / "app.nbi"
    proc = run_with_image(tmp_path, mine, image, lambda: crafted_image(mine, monkeypatch), monkeypatch)
    assert proc.stdout == "not the program you wrote\n", proc.stderr


def test_the_key_is_private_and_a_shared_one_is_not_used(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (tmp_path / "app.nd").write_text(APP)
    assert run(tmp_path, mine).stdout == "42\n"
    key = mine / user_key.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == user_key.KEY_SIZE
    key.chmod(0o644)  # readable by others: anyone could sign images with it
    image = tmp_path / "__noodlecache__" / "app.nbi"
    image.unlink()
    proc = run(tmp_path, mine)
    assert proc.returncode == 0 and proc.stdout == "42\n"
    assert not image.exists()  # nothing trusted, nothing written
