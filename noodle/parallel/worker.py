"""The worker side: code installed from a :class:`ModuleBundle`, tasks run in a sandboxed machine.

Runs in a local pool process or a Dask worker.  A bundle is installed once per process (its
modules checked against their hashes, then decoded and verified like any loaded module) and kept
by its key; every task names the bundle and the version of its module, and is refused
(:class:`VersionMismatch`) when this process holds other code.  The machine grants the program's
capabilities and nothing more.  Modules are loaded without running their top-level code; each task
brings the program's globals (:mod:`noodle.parallel.state`) and its large Arrays
(:class:`noodle.parallel.wire.SharedArray`: a shared-memory file, or a scattered Dask argument).
"""
from __future__ import annotations

import threading
from typing import Any

from noodle.errors import LoadError, NoodleError
from noodle.parallel.state import restore, struct_classes
from noodle.parallel.wire import (ModuleBundle, ResultMessage, SharedArray, StructMismatch, TaskFailure, TaskMessage,
                                  VersionMismatch, content_hash, decode_values, encode_values)
from noodle.runtime.errors import NoodleRuntimeError
from noodle.vm.image import build_image
from noodle.vm.limits import Capabilities
from noodle.vm.machine import Machine
from noodle.vm.verify import load_bytes

_LOCK = threading.Lock()


class Installed:
    """A bundle's code in this process: its machine and struct classes."""

    __slots__ = ("bundle", "machine", "classes")

    def __init__(self, bundle: ModuleBundle, machine: Machine) -> None:
        self.bundle, self.machine = bundle, machine
        self.classes = struct_classes(machine)


#: bundle key -> the code installed in this process
_INSTALLED: dict[str, Installed] = {}


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

        def load(name: str) -> None:  # imports first, so that no load runs a module's top-level code
            if name in machine.modules:
                return
            image = build_image(find(name), False)
            for dep in image.imports:
                load(dep)
            machine.load(image, run_init=False)

        load(bundle.entry)
        _INSTALLED[bundle.key] = Installed(bundle, machine)


def installed_keys() -> list[str]:
    return list(_INSTALLED)


def run_task(task: TaskMessage, scattered: tuple[Any, ...] = ()) -> ResultMessage:
    """Run one chunk; a Noodle error becomes the result's `failure` (reported, never retried).

    `scattered` are the task's shared Arrays that came as Dask arguments (the cluster's)."""
    entry = _INSTALLED.get(task.bundle_key)
    if entry is None:
        raise VersionMismatch(f"this worker holds no code for program {task.bundle_key[:12]}: refused")
    bundle, machine = entry.bundle, entry.machine
    held = bundle.hashes.get(task.module)
    if held != task.module_hash:
        raise VersionMismatch(f"module {task.module!r} version {task.module_hash[:12]} was asked for, but this "
                              f"worker holds {'no such module' if held is None else 'version ' + held[:12]}: refused")
    lm = machine.modules[task.module]
    fn = lm.functions.get(task.function)
    if fn is None:
        raise VersionMismatch(f"module {task.module!r} has no function {task.function!r}: refused")
    shared = _SharedArrays(task.shared, scattered)
    try:
        restore(machine, task.state, entry.classes, shared.get)
        xs = decode_values(task.payload, lambda module, name: entry.classes[(module, name)], shared.get)
    except StructMismatch as e:
        raise VersionMismatch(f"{e}: refused") from None
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


class _SharedArrays:
    """A task's shared Arrays, each read (and copied: the task may write to it) once when first used, so
    the elements of one task that hold the same Array hold one object, as they do in the program."""

    def __init__(self, refs: list[SharedArray], scattered: tuple[Any, ...]) -> None:
        self.refs, self.scattered = refs, scattered
        self.arrays: dict[int, Any] = {}

    def get(self, index: int) -> Any:
        array = self.arrays.get(index)
        if array is None:
            import numpy as np

            ref = self.refs[index]
            if ref.path:
                array = np.fromfile(ref.path, dtype=ref.dtype).reshape(ref.shape)
            else:
                array = np.array(self.scattered[index], dtype=ref.dtype, copy=True).reshape(ref.shape)
            self.arrays[index] = array
        return array


def run_task_bytes(data: bytes, *scattered: Any) -> bytes:
    """`run_task` on msgspec bytes (what pools and Dask carry)."""
    import msgspec

    return msgspec.msgpack.encode(run_task(msgspec.msgpack.decode(data, type=TaskMessage), scattered))


def install_bytes(data: bytes) -> None:
    import msgspec

    install(msgspec.msgpack.decode(data, type=ModuleBundle))
