"""`noodle run --watch`: the running program picks up each saved version and keeps its state."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from helpers import HANG_S

NOODLE = str(Path(sys.executable).parent / "noodle")

APP = """import time
var count = 0
fn tick() -> str {
    count += 1
    return "TAG {count}"
}
fn main() {
    while count < LIMIT {
        print(tick())
        time.sleep(0.05)
    }
}
"""


def save(path: Path, text: str) -> None:
    """Save as an editor does: truncate, then write in pieces (the watcher must wait for it to settle)."""
    with path.open("w") as f:
        f.flush()
        half = len(text) // 2
        f.write(text[:half])
        f.flush()
        time.sleep(0.05)
        f.write(text[half:])
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a new mtime even on coarse clocks


def wait_for(path: Path, needle: str, timeout: float = HANG_S) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = path.read_text() if path.exists() else ""
        if needle in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} never appeared in {path.name}: {text[-500:]!r}")


def version(tag: str, limit: int = 1_000_000) -> str:
    """The app printing `tag`, running until its count reaches `limit` (1M: until a new version says stop)."""
    return APP.replace("TAG", tag).replace("LIMIT", str(limit))


def test_watch_upgrades_a_running_program_and_keeps_its_state(tmp_path: Path) -> None:
    app = tmp_path / "app.nd"
    save(app, version("v1"))
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen([NOODLE, "run", "--watch", "app.nd"], cwd=tmp_path, stdout=o, stderr=e)
    try:
        wait_for(out, "v1 3")
        save(app, version("v2").replace("fn main", "fn on_upgrade(v: str) { count += 0 }\nfn main"))
        wait_for(out, "v2 ")
        save(app, version("v3").replace("fn tick() -> str {", "fn tick() -> str { oops"))
        report = wait_for(err, "[watch] kept")
        save(app, version("v4", limit=0))  # the loop ends: events, not the machine's speed, end the program
        assert proc.wait(timeout=HANG_S) == 0
    finally:
        proc.kill()
    lines = out.read_text().split()
    numbers = [int(n) for n in lines[1::2]]
    # one counter, carried across the upgrades: never reset or repeated (a restart may interrupt one tick
    # between its increment and its print, so at most one number per upgrade may be missing)
    assert numbers == sorted(set(numbers)) and numbers[0] == 1 and len(numbers) >= numbers[-1] - 2, lines
    assert "v2" in lines and "v3" not in lines and "v4" not in lines
    assert "app upgraded" in report and "state carried: count" in report and "E0" in report


def read_until(stream, needle: bytes, timeout: float = 60) -> bytes:  # noqa: ANN001 - a pipe
    """What `stream` (a pipe) gives until `needle` appears; fails at the deadline, which only a
    program whose output never comes reaches (waits on the pipe, no sleeps)."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    got = b""
    end = time.monotonic() + timeout
    while needle not in got:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} never came through the pipe: {got[-500:]!r}")
        if sel.select(timeout=left):
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"the pipe closed before {needle!r}: {got[-500:]!r}")
            got += chunk
    return got


def test_watch_output_to_a_pipe_shows_while_main_still_runs(tmp_path: Path) -> None:
    # `noodle run --watch app.nd | tee log`: each print reaches the pipe at once, though main never
    # returns (Python block-buffers a pipe: the lines waited for 8 KiB of output, or the exit)
    app = tmp_path / "app.nd"
    save(app, 'fn main() {\n  print("started")\n  print("still here")\n'
              "  var n = 0\n  while true {\n    n += 1\n  }\n}\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # the user's environment
    proc = subprocess.Popen([NOODLE, "run", "--watch", "app.nd"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        assert read_until(proc.stdout, b"still here\n") == b"started\nstill here\n"
        assert proc.poll() is None  # main is still looping
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
