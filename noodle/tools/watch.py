"""`noodle run --watch FILE.nd`: run a program and upgrade it live on every save.

The program runs in a VM with the local user's rights; its `main` runs in a
worker thread.  When the file changes, the new version is compiled, verified
and checked like any live upgrade (:meth:`noodle.host.embed.VM.upgrade`); if it
is accepted, the running `main` is stopped, module state (`var`s of the same
name and type) carries over, and `main` starts again on the new code — so the
program keeps its state while its code changes.  A rejected version (a syntax
error, a failing `on_upgrade`) is reported and the old code keeps running.
The report of each upgrade goes to stderr.
"""
from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from pathlib import Path

POLL_SECONDS = 0.2
#: a file is read once its size and time have not changed for this long
SETTLE_SECONDS = 0.15


class _Restart(BaseException):
    """Raised inside the running `main` to stop it for an upgrade (not catchable by Noodle code)."""


def _interrupt(thread: threading.Thread) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Restart))


def watch(path: str, out=None) -> int:  # noqa: ANN001 - a text stream
    import noodle
    from noodle.tools.render import print_compile_error, print_runtime_error

    out = out or sys.stderr
    _flush_each_line(sys.stdout)
    file = Path(path)
    vm = noodle.VM(capabilities=noodle.Capabilities.all(), root=file.parent)
    try:
        handle = vm.load(file)
    except noodle.CompileError as e:
        print_compile_error(e)
        return 2
    except noodle.NoodleRuntimeError as e:
        print_runtime_error(e)
        return 1
    except noodle.LoadError as e:
        out.write(f"error: {e}\n")
        return 1
    name = object.__getattribute__(handle, "_name")
    state = {"thread": None, "status": None}

    def run_main() -> None:
        lm = vm.machine.modules[name]
        try:
            vm.machine.run_main(lm)
            state["status"] = 0
        except _Restart:
            return
        except noodle.NoodleRuntimeError as e:
            sys.stdout.flush()
            print_runtime_error(e)
            state["status"] = 1

    def start() -> None:
        state["status"] = None
        t = threading.Thread(target=run_main, name="noodle-main", daemon=True)
        state["thread"] = t
        t.start()

    def stop() -> None:
        t = state["thread"]
        if t is not None and t.is_alive():
            from noodle.vm.native import hold_stop, release_stop
            hold_stop("restart")  # native code polls this flag; the async exception waits for Python code
            try:
                while t.is_alive():
                    _interrupt(t)
                    t.join(0.05)
            finally:
                release_stop("restart")
        state["thread"] = None

    has_main = vm.machine.modules[name].image.entry is not None
    if has_main:
        start()
    out.write(f"[watch] running {path}; edit and save it to upgrade (Ctrl-C to stop)\n")
    out.flush()
    seen = _stamp(file)
    try:
        while True:
            time.sleep(POLL_SECONDS)
            t = state["thread"]
            if has_main and t is not None and not t.is_alive() and state["status"] is not None:
                return state["status"]
            stamp = _stamp(file)
            if stamp == seen:
                continue
            # an editor's save may take several writes (truncate, then write): wait until it settles
            while True:
                time.sleep(SETTLE_SECONDS)
                settled = _stamp(file)
                if settled == stamp:
                    break
                stamp = settled
            seen = stamp
            stopped = []

            def before_swap() -> None:
                if has_main:
                    stop()
                    stopped.append(True)

            try:
                # the developer's own file: going back to an older version there is no attack
                report = vm.upgrade(file, before_swap=before_swap, allow_downgrade=True)
                out.write(f"[watch] {report}\n")
            except noodle.UpgradeRejected as e:
                out.write(f"[watch] kept {vm.machine.modules[name].version}: {e.reason}\n")
            out.flush()
            if stopped:
                start()
    except KeyboardInterrupt:
        stop()
        return 130


def _flush_each_line(stream) -> None:  # noqa: ANN001 - a text stream
    """A watched program runs until stopped: what it prints to a pipe (`| tee`, `| less`) must show
    as it is printed, not when Python's 8 KiB buffer fills.  A terminal is line-buffered already."""
    try:
        if not stream.isatty() and not stream.line_buffering:
            stream.reconfigure(line_buffering=True)
    except (AttributeError, ValueError, OSError):  # not a TextIOWrapper (a test's StringIO), or closed
        pass


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
