"""A candidate loaded into a VM, and the original it replaces, each run to an :class:`Outcome`.

The VM comes from whoever asks (:mod:`noodle.ale` does not make VMs): a sandbox VM — limits, no
capabilities — for validation, a plain one for benchmarks and live calls.
"""
from __future__ import annotations

import builtins
import copy
import importlib
import os
import signal
import threading
from pathlib import Path
from typing import Any, Callable

from noodle.ale.compare import Outcome, error_kind
from noodle.errors import LimitExceeded, NoodleError
from noodle.vm.pyffi.crossing import from_py, type_of
from noodle.runtime.values import ErrorValue

#: how long one call of the original may take during validation before the input is skipped
ORIGINAL_SECONDS = 0.5


class CandidateRunner:
    """A candidate's Noodle source loaded as module `ale_c<ID>` in `vm`.

    The source is written to `folder/ale_c<ID>.nd` and loaded from there (where a person can read
    it, and the module cache can keep its compiled form).
    """

    def __init__(self, vm: Any, candidate_id: int, source: str, entry: str, params: list[str],
                 folder: Path) -> None:
        self.vm = vm
        self.module = f"ale_c{candidate_id}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.module}.nd"
        if not path.exists() or path.read_text() != source:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(source)
            os.replace(tmp, path)  # atomic: two programs starting at once read a whole file
        if vm.machine.meter is None:
            _load_cached(vm.machine, folder, self.module, source, path)
        else:  # a sandbox: metered code, compiled afresh
            vm.load(path)
        self.fn: Callable[..., Any] = vm.machine.modules[self.module].exports[entry]
        self.qualified = f"{self.module}.{entry}"
        self.types = [type_of(p) for p in params]
        #: parameters whose Python value must be converted (copied, checked) before the call
        self.converted = [i for i, p in enumerate(params) if p.startswith(("List<", "Map<", "("))]
        #: what a call site may call with the arguments themselves (arrays and scalars the pattern
        #: checked cross as they are); None when some argument must be converted first
        self.direct: Callable[..., Any] | None = None
        if not self.converted:
            self.direct = self.fn
            self.serve = self._serve_direct  # type: ignore[method-assign]

    def _serve_direct(self, original: Callable[..., Any], args: tuple, kwargs: dict | None) -> Any:
        try:
            return self.fn(*args)
        except ErrorValue as e:
            raise python_exception(e) from None

    def outcome(self, args: tuple) -> Outcome:
        """Run the candidate through the VM's front door (its limits apply) on a copy of `args`."""
        args = copy.deepcopy(args)
        try:
            values = [from_py(a, t, f"argument {i + 1}") for i, (a, t) in enumerate(zip(args, self.types))]
        except ErrorValue as e:
            return Outcome(error=e.f_kind, message=e.f_message)
        try:
            value = self.vm.call(self.qualified, *values)
        except LimitExceeded as e:
            return Outcome(error="LimitExceeded", message=str(e))
        except NoodleError as e:
            kind = getattr(e, "kind", type(e).__name__)
            message = getattr(e, "message", str(e))
            return Outcome(error=error_kind(kind, message), message=message)
        return Outcome(value=value, args_after=tuple(values))

    def serve(self, original: Callable[..., Any], args: tuple, kwargs: dict | None) -> Any:
        """A live call: the candidate's result, or its error as the Python exception it stands for.
        A list that does not convert (mixed item types, say) is served by the original."""
        if self.converted:
            args = list(args)  # type: ignore[assignment]
            try:
                for i in self.converted:
                    args[i] = from_py(args[i], self.types[i])  # type: ignore[index]
            except ErrorValue:
                return original(*args)
        try:
            return self.fn(*args)
        except ErrorValue as e:
            raise python_exception(e) from None


def _load_cached(machine: Any, folder: Path, name: str, source: str, path: Path) -> None:
    """Load a candidate from its cached image when it is still valid (no compiler imported: a
    program pays little for the replacements it uses), else compile it and keep the image."""
    from noodle.vm.cache import read_image

    image = read_image(str(folder), name, source)
    if image is None:
        from noodle.build.driver import CompileOptions, Project
        from noodle.format.cache import write_image
        from noodle.vm.image import build_image

        compiled = Project(folder, CompileOptions(1, True)).compile_file(path, display=path.name)
        image = build_image(compiled.module)
        try:
            write_image(str(folder), name, image)
        except OSError:
            pass  # a read-only folder: compiled again next time
    machine.load(image)


def python_exception(err: ErrorValue) -> Exception:
    """The Python exception a Noodle error stands for (`ZeroDivisionError`, `ValueError: ...`)."""
    name = error_kind(err.f_kind, err.f_message)
    cls = getattr(builtins, name, None)
    message = err.f_message
    if message.startswith(name + ":"):
        message = message[len(name) + 1:].strip()
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        return RuntimeError(f"{name}: {message}")
    return cls(message)


def original_outcome(fn: Callable[..., Any], args: tuple) -> Outcome | None:
    """Run the original on a copy of `args`; None when it ran past :data:`ORIGINAL_SECONDS`."""
    args = copy.deepcopy(args)
    timed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if timed:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, ORIGINAL_SECONDS)
    try:
        value = fn(*args)
    except _TimedOut:
        return None
    except Exception as e:
        return Outcome(error=type(e).__name__, message=str(e))
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    return Outcome(value=value, args_after=tuple(args))


class _TimedOut(BaseException):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _TimedOut()


def resolve(name: str) -> Any:
    """The Python object a qualified name (`numpy.dot`, `mylib.stats.mean`) names, importing as needed."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    if len(parts) == 1 and hasattr(builtins, name):
        return getattr(builtins, name)
    raise LookupError(f"cannot find {name} (is its module importable from here?)")
