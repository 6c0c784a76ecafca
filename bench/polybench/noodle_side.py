"""Compile and load one PolyBench kernel file with Noodle, in-process, and say what runs natively."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


def _compile_source():
    from noodle.build.driver import compile_source
    return compile_source


@dataclass
class Loaded:
    """One kernel module, loaded: its functions, which of them run natively, and what loading cost."""
    functions: dict[str, Callable[..., Any]]
    compile_s: float  # front end, passes, LLVM and linking, with an empty machine-code cache
    #: the machine's native report of the module: what runs natively, and what the backend refused
    report: str = ""

    def native(self, name: str) -> bool:
        return bool(getattr(self.functions[name], "__noodle_native__", False))


class CompileFailed(Exception):
    """The kernel file did not compile (a diagnostic or an internal error), with the message."""


def load(source: Path, cache_dir: str, backend: str = "auto", mode: str | None = None) -> Loaded:
    """Compile `source` and load it on a machine with `backend` (auto: native code where it can)
    and `mode` (safe: no variant that adds in another order), caching machine code in `cache_dir`
    (an empty one times a first run)."""
    from noodle.errors import NoodleError
    from noodle.vm.machine import Machine

    compile_source = _compile_source()
    before = os.environ.get("NOODLE_CACHE_DIR")
    os.environ["NOODLE_CACHE_DIR"] = cache_dir
    t = time.perf_counter()
    try:
        _, module = compile_source(source.read_text(), str(source), source.stem)
        lm_machine = Machine(backend=backend, mode=mode)
        lm = lm_machine.load(module)
    except NoodleError as e:
        raise CompileFailed(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    except Exception as e:  # noqa: BLE001 - an internal compiler error is a finding to report, not a crash
        raise CompileFailed(f"internal error: {type(e).__name__}: {e}") from None
    finally:
        if before is None:
            os.environ.pop("NOODLE_CACHE_DIR", None)
        else:
            os.environ["NOODLE_CACHE_DIR"] = before
    return Loaded(dict(lm.functions), time.perf_counter() - t, lm_machine.native_report.get(source.stem, ""))


def explain(source: Path) -> list[str]:
    """`noodlec SOURCE --explain`, line by line (the file name shortened to its stem)."""
    exe = Path(sys.executable).with_name("noodlec")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "noodle.tools.cli"]
    done = subprocess.run(cmd + [str(source), "--explain"], capture_output=True, text=True, check=False)
    text = (done.stdout + done.stderr).strip()
    return [line.replace(str(source), source.name) for line in text.splitlines()]
