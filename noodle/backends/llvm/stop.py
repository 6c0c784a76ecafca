"""The process-wide flag native code polls: set it, and every native loop and call stops soon.

Native code reads one i64 (`noodle_stop_flag`, resolved by the JIT to the word below) at each
function's entry, on each iteration of a `while` loop or an outer counted loop, and once per strip
of an innermost counted loop (noodle.backends.llvm.lower).  When it is not 0 the function returns
the status `STOPPED`; a pure function's wrapper then runs the call again in the VM — where Ctrl-C,
a restart or a time limit takes effect as it does for translated code — and an impure one's raises
what its machine says (`on_stop`).  Who sets it: the SIGINT watcher of `noodle run`, `--watch`
restarting a program, a VM's deadline (noodle.vm.native).
"""
from __future__ import annotations

import ctypes

#: the flag itself; its address is given to LLVM as the symbol native code reads
FLAG = ctypes.c_int64(0)


def address() -> int:
    return ctypes.addressof(FLAG)


def requested() -> bool:
    return FLAG.value != 0


class Stopped(BaseException):
    """A native call that stopped at the flag and cannot be re-run in the VM (it stores into
    Arrays), where nothing else (Ctrl-C, a restart, a deadline) has raised first."""


_reasons: set[object] = set()


def hold(reason: object) -> None:
    """Keep the flag set until `release(reason)` (several reasons may hold it at once)."""
    _reasons.add(reason)
    FLAG.value = 1


def release(reason: object) -> None:
    _reasons.discard(reason)
    if not _reasons:
        FLAG.value = 0
