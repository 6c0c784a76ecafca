"""The worker side: code installed from a :class:`ModuleBundle`, tasks run in a sandboxed machine.

Runs in a local pool process or a Dask worker.  A bundle is installed once per process (its
modules checked against their hashes, then decoded and verified like any loaded module) and kept
by its key; every task names the bundle and the version of its module, and is refused
(:class:`VersionMismatch`) when this process holds other code.  The machine grants the program's
capabilities and nothing more.
"""
from __future__ import annotations

import threading
from typing import Any

from noodle.errors import LoadError, NoodleError
from noodle.parallel.wire import (ModuleBundle, ResultMessage, TaskFailure, TaskMessage, VersionMismatch,
                                  content_hash, decode_values, encode_values)
from noodle.runtime.errors import NoodleRuntimeError
from noodle.vm.limits import Capabilities
from noodle.vm.machine import Machine
from noodle.vm.verify import load_bytes

_LOCK = threading.Lock()
#: bundle key -> (bundle, machine), this process's installed code
_INSTALLED: dict[str, tuple[ModuleBundle, Machine]] = {}


def install(bundle: ModuleBundle) -> None:
    """Check, verify and load a bundle's modules (once per process; later calls are free)."""
    with _LOCK:
        if bundle.key in _INSTALLED:
            return
        files = {}
        for name, data in bundle.modules.items():
            if content_hash(data) != bundle.hashes.get(name):
                raise VersionMismatch(f"module {name!r} arrived with bytes that do not match its hash: refused")
            files[name] = load_bytes(data, f"<{name}.nbc from the program>")
        granted = Capabilities(**{c: True for c in bundle.capabilities})

        def find(name: str) -> Any:
            if name not in files:
                raise LoadError(f"module {name!r} was not sent with the program")
            return files[name]

        machine = Machine(find, capabilities=granted)
        machine.load(files[bundle.entry])
        _INSTALLED[bundle.key] = (bundle, machine)


def installed_keys() -> list[str]:
    return list(_INSTALLED)


def struct_classes(machine: Machine) -> dict[str, type]:
    classes: dict[str, type] = {}
    for lm in machine.modules.values():
        for i, (sname, _, _) in enumerate(lm.image.structs):
            classes.setdefault(sname, lm.namespace[f"S{i}"])
    return classes


def run_task(task: TaskMessage) -> ResultMessage:
    """Run one chunk; a Noodle error becomes the result's `failure` (reported, never retried)."""
    entry = _INSTALLED.get(task.bundle_key)
    if entry is None:
        raise VersionMismatch(f"this worker holds no code for program {task.bundle_key[:12]}: refused")
    bundle, machine = entry
    held = bundle.hashes.get(task.module)
    if held != task.module_hash:
        raise VersionMismatch(f"module {task.module!r} version {task.module_hash[:12]} was asked for, but this "
                              f"worker holds {'no such module' if held is None else 'version ' + held[:12]}: refused")
    lm = machine.modules[task.module]
    fn = lm.functions.get(task.function)
    if fn is None:
        raise VersionMismatch(f"module {task.module!r} has no function {task.function!r}: refused")
    classes = struct_classes(machine)
    xs = decode_values(task.payload, lambda _module, name: classes[name])
    out: list[Any] = []
    for i, x in enumerate(xs):
        try:
            if task.op == "reduce":
                out = [x] if i == 0 else [machine.call(lm, fn, out[0], x)]
            else:
                out.append(machine.call(lm, fn, x))
        except NoodleRuntimeError as e:
            stack = [(f.name, f.file, f.line, f.col) for f in e.stack]
            return ResultMessage(task.start, b"", TaskFailure(task.start + i, e.kind, e.message, stack))
        except NoodleError as e:  # a limit or exit() inside a task: reported as the element's failure
            return ResultMessage(task.start, b"", TaskFailure(task.start + i, type(e).__name__, str(e), []))
    return ResultMessage(task.start, encode_values(out))


def run_task_bytes(data: bytes) -> bytes:
    """`run_task` on msgspec bytes (what pools and Dask carry)."""
    import msgspec

    return msgspec.msgpack.encode(run_task(msgspec.msgpack.decode(data, type=TaskMessage)))


def install_bytes(data: bytes) -> None:
    import msgspec

    install(msgspec.msgpack.decode(data, type=ModuleBundle))
