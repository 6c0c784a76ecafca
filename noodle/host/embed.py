"""The embedding API: Noodle as a host application's runtime.

    vm = noodle.VM(capabilities=noodle.Capabilities(), limits=noodle.Limits(max_steps=10_000_000))
    app = vm.load("app.nd")               # .nd (compiled), .nbc, or noodle.Source(text, name=...)
    app.fib(20)                           # exported functions are attributes; Python values in and out
    vm.call("app.fib", 20)
    vm.register_module("host", {"log": (print, "fn(str) -> none")})
    report = vm.upgrade("app_v2.nd")      # live upgrade: verified, compatible, state migrated, atomic
    vm.rollback("app")                    # back to the version (and state) before the last upgrade
    vm.modules()                          # [(name, version), ...]

Threads.  Calls from several host threads into one VM are safe and run
concurrently (under the GIL, as Python code does); each has its own limit
budget.  Module state is shared, like a Python module's: a single assignment
is atomic, a read-modify-write of one variable (`count += 1`) is not.
Loads, upgrades and rollbacks are serialised by the VM.  An upgrade waits for
the calls in flight to finish (they finish on the old code), holds back calls
that start meanwhile, then migrates state and swaps, so every call runs
entirely on one version and nothing a call did is lost.

Versions.  Each module keeps its earlier versions (``history`` of them) for
rollback.  Code that never returns to the host (a `main` loop under
``noodle run --watch``) keeps running the frame it is in, but every function
it calls after an upgrade is the new version's.
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from noodle.errors import CompileError, LoadError, UpgradeRejected
from noodle.format import thresholds
from noodle.host.versions import is_downgrade
from noodle.ir import variants
from noodle.ir.types import FnT, parse_type
from noodle.vm.convert import ValueMismatch, checked_callable, to_noodle
from noodle.runtime.errors import NoodleRuntimeError
from noodle.vm.image import ModuleImage, build_image
from noodle.vm.limits import Capabilities, Limits
from noodle.vm.machine import Exports, LoadedModule, Machine, TestResult


@dataclass(frozen=True)
class Source:
    """Noodle source text to load, with the module name it gets."""

    text: str
    name: str = "main"


@dataclass
class UpgradeReport:
    """What an upgrade or rollback changed, and how long the swap took."""

    module: str
    from_version: str
    to_version: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    carried: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    importers_to_upgrade: list[str] = field(default_factory=list)
    tests_passed: int = 0
    swap_seconds: float = 0.0
    total_seconds: float = 0.0
    rollback: bool = False

    def __str__(self) -> str:
        what = "rolled back" if self.rollback else "upgraded"
        lines = [f"{self.module} {what} {self.from_version} -> {self.to_version} "
                 f"(swap {self.swap_seconds * 1000:.2f} ms, total {self.total_seconds * 1000:.1f} ms)"]
        for label, names in (("added", self.added), ("changed", self.changed), ("removed", self.removed),
                             ("state carried", self.carried), ("state dropped", self.dropped),
                             ("state restored", self.restored),
                             ("importers to upgrade", self.importers_to_upgrade)):
            if names:
                lines.append(f"  {label}: {', '.join(names)}")
        if self.tests_passed:
            lines.append(f"  tests passed: {self.tests_passed}")
        return "\n".join(lines)


class _Version:
    """An earlier version kept for rollback: its linked module and its own function bindings."""

    def __init__(self, lm: LoadedModule, functions: dict[str, Any]) -> None:
        self.lm = lm
        self.functions = functions


class _Gate:
    """Counts host calls in flight; an upgrade closes it, waits for them, swaps, reopens."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inflight = 0
        self._closed = False
        self._local = threading.local()

    def inside(self) -> bool:
        return getattr(self._local, "depth", 0) > 0

    def enter(self) -> None:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            with self._cond:
                while self._closed:
                    self._cond.wait()
                self._inflight += 1
        self._local.depth = depth + 1

    def leave(self) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            with self._cond:
                self._inflight -= 1
                if self._inflight == 0:
                    self._cond.notify_all()

    @contextmanager
    def closed(self) -> Iterator[None]:
        with self._cond:
            self._closed = True
            while self._inflight:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()


class _HostModule:
    """A module of host functions, registered with :meth:`VM.register_module`."""

    def __init__(self, name: str, functions: dict[str, tuple[Callable[..., Any], str]]) -> None:
        from noodle.compiler.scope import ModuleInterface

        self.name = name
        self.version = "0.0.0"
        self.image = None
        self.interface = ModuleInterface(name, "0.0.0")
        ns: dict[str, Any] = {}
        keys: dict[str, str] = {}
        for i, (fname, (fn, sig_text)) in enumerate(functions.items()):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", fname):
                raise ValueError(f"host function name {fname!r} is not an identifier")
            sig = parse_type(sig_text)
            if not isinstance(sig, FnT):
                raise ValueError(f"{name}.{fname}: {sig_text!r} is not a function type")
            self.interface.functions[fname] = sig
            ns[f"h{i}"] = checked_callable(fn, sig, f"{name}.{fname}")
            keys[fname] = f"h{i}"
        self.namespace = ns
        self.exports = Exports(ns, keys)
        self.functions: dict[str, Any] = {}


class ModuleHandle:
    """A loaded module as the host sees it: exported functions, globals and structs as attributes.

    Attributes are looked up at each access, so after an upgrade the handle reaches the new version.
    """

    def __init__(self, vm: "VM", name: str) -> None:
        object.__setattr__(self, "_vm", vm)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str) -> Any:
        vm: VM = object.__getattribute__(self, "_vm")
        name: str = object.__getattribute__(self, "_name")
        lm = vm.machine.modules.get(name)
        if lm is None or lm.image is None or attr not in lm.image.exports:
            raise AttributeError(f"module {name} exports no {attr!r}")
        if isinstance(vm._signature(lm, attr), FnT):
            return lambda *args: vm.call(f"{name}.{attr}", *args)
        return lm.exports[attr]

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError("a module's variables change only through its functions")

    def __dir__(self) -> list[str]:
        lm = self._vm.machine.modules.get(self._name)
        return sorted(lm.image.exports) if lm is not None and lm.image is not None else []

    def __repr__(self) -> str:
        lm = self._vm.machine.modules.get(self._name)
        return f"<noodle module {self._name} {lm.version if lm else '?'}>"


class VM:
    """One embedded Noodle runtime.  Several VMs in one process share nothing."""

    def __init__(self, capabilities: Capabilities | None = None, limits: Limits | None = None,
                 history: int = 5, root: "str | os.PathLike[str] | None" = None,
                 mode: str = "optimized", args: "list[str] | None" = None,
                 trusted_keys: "Iterable[bytes | str | os.PathLike[str]] | None" = None) -> None:
        """`args`: what `sys.args()` returns to the VM's code (none by default).

        `trusted_keys` (Ed25519 public keys: 32 raw bytes, hex, or `.pub` files): when given, this VM
        loads and upgrades only `.nbc` modules signed by one of them (noodle.format.signing) — no
        source, nothing unsigned, nothing changed after signing; imports too are signed `.nbc` files
        found in `root`."""
        if mode not in ("optimized", "safe"):
            raise ValueError(f"mode must be 'optimized' or 'safe', not {mode!r}")
        if trusted_keys is not None:
            from noodle.format.signing import public_key
            self.trusted_keys: "list[bytes] | None" = [public_key(k) for k in trusted_keys]
        else:
            self.trusted_keys = None
        self.capabilities = capabilities if capabilities is not None else Capabilities()
        self.limits = limits if limits is not None else Limits()
        self.history_size = history
        self.root = Path(root) if root is not None else Path.cwd()
        if self.capabilities.py_import and str(self.root) not in sys.path:
            sys.path.append(str(self.root))  # `import py mylib` finds mylib.py in the VM's root
        variants.measured_by(thresholds.load)  # this machine's `noodle tune` results, read on first use
        self.machine = Machine(self._find, capabilities=self.capabilities, limits=self.limits, mode=mode,
                               args=args)
        self._lock = threading.RLock()
        self._gate = _Gate()
        self._history: dict[str, list[_Version]] = {}
        self._signatures: dict[tuple[int, str], Any] = {}
        self._project: Any = None

    # ------------------------------------------------------------ modules

    def modules(self) -> list[tuple[str, str]]:
        """The loaded modules, with their versions."""
        return [(name, m.version) for name, m in self.machine.modules.items()]

    def register_module(self, name: str, functions: dict[str, tuple[Callable[..., Any], str]]) -> None:
        """Offer host functions to Noodle code as module `name` (`import host; host.log("hi")`).

        Each entry is `(callable, "fn(T, ...) -> R")`; arguments arrive as Noodle values (Python
        values), results are checked against R.  An exception from the callable is a catchable
        Noodle `HostError`.
        """
        with self._lock:
            if name in self.machine.modules:
                raise ValueError(f"a module named {name!r} is already loaded")
            self.machine.modules[name] = _HostModule(name, functions)  # type: ignore[assignment]

    def load(self, what: "str | os.PathLike[str] | Source") -> ModuleHandle:
        """Load a module — a `.nd` path (compiled), a `.nbc` path, or :class:`Source` — and run its
        top-level code.  Raises CompileError, LoadError, NoodleRuntimeError or LimitExceeded."""
        with self._lock:
            module = self._module_file(what)
            if module.name in self.machine.modules:
                raise LoadError(f"module {module.name!r} is already loaded; use upgrade() to replace it")
            self._gate.enter()
            try:
                lm = self.machine.load(module, run_init=False)
                lm.module_file = module
                try:
                    self.machine.call(lm, lm.functions["__init__"])
                except BaseException:
                    self.machine.modules.pop(module.name, None)
                    raise
            finally:
                self._gate.leave()
            return ModuleHandle(self, module.name)

    def module(self, name: str) -> ModuleHandle:
        if name not in self.machine.modules:
            raise KeyError(name)
        return ModuleHandle(self, name)

    # ------------------------------------------------------------ calls

    def call(self, qualified: str, *args: Any) -> Any:
        """Call an exported function by its qualified name (`"app.fib"`, `"geo.Vec.norm"`)."""
        module, name = self._split(qualified)
        self._gate.enter()
        try:
            lm = self.machine.modules[module]
            sig = self._signature(lm, name)
            if not isinstance(sig, FnT):
                raise NoodleRuntimeError("TypeError", f"{qualified} is not a function", [])
            if len(args) != len(sig.params):
                raise NoodleRuntimeError("TypeError", f"{qualified} takes {len(sig.params)} argument"
                                                      f"{'s' if len(sig.params) != 1 else ''}, got {len(args)}", [])
            try:
                values = [to_noodle(a, t, f"argument {i + 1} of {qualified}")
                          for i, (a, t) in enumerate(zip(args, sig.params))]
            except ValueMismatch as e:
                raise NoodleRuntimeError("TypeError", str(e), []) from None
            return self.machine.call(lm, lm.exports[name], *values)
        finally:
            self._gate.leave()

    def _split(self, qualified: str) -> tuple[str, str]:
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            lm = self.machine.modules.get(module)
            if lm is not None and lm.image is not None and ".".join(parts[cut:]) in lm.image.exports:
                return module, ".".join(parts[cut:])
        raise NoodleRuntimeError("NameError", f"no exported function {qualified!r} in this VM", [])

    def _signature(self, lm: LoadedModule, name: str) -> Any:
        key = (id(lm), name)
        sig = self._signatures.get(key)
        if sig is None:
            text = lm.image.exports[name]
            sig = parse_type(text) if not text.startswith("struct ") else None
            self._signatures[key] = sig
        return sig

    # ------------------------------------------------------------ compiling

    def _externals(self) -> dict[str, Any]:
        from noodle.build.driver import interface_of

        out: dict[str, Any] = {}
        for name, m in self.machine.modules.items():
            if isinstance(m, _HostModule):
                out[name] = m.interface
            elif getattr(m, "module_file", None) is not None:
                out[name] = interface_of(m.module_file)
        return out

    def _module_file(self, what: "str | os.PathLike[str] | Source") -> Any:
        if self.trusted_keys is not None and (isinstance(what, Source) or Path(what).suffix != ".nbc"):
            raise LoadError("this VM runs only .nbc modules signed by a key it trusts, not source "
                            "(compile and sign with `noodlec FILE.nd --sign KEY.key`)", _name_of(what))
        if isinstance(what, Source):
            return self._compile(self.root, what.name, f"{what.name}.nd", what.text)
        path = Path(what)
        if path.suffix == ".nbc":
            return self._read_nbc(path)
        from noodle.format.cache import identifier

        return self._compile(path.parent, identifier(path.stem), str(path), None, path)

    def _compile(self, root: Path, name: str, display: str, text: str | None, path: Path | None = None) -> Any:
        from noodle.build.driver import CompileOptions, Project, read_source

        project = Project(root, CompileOptions(1, use_cache=False), external=self._externals())
        if text is None:
            assert path is not None
            text = read_source(path, display)
        compiled = project.compile_module(name, path or root / display, display, source=text)
        self._project = project
        compiled.module.source_file = display
        return compiled.module

    def _read_nbc(self, path: Path) -> Any:
        from noodle.vm.verify import load_bytes

        try:
            data = path.read_bytes()
        except OSError as e:
            raise LoadError(f"cannot read module file: {e.strerror}", str(path)) from None
        return load_bytes(data, str(path), self.trusted_keys)

    def _find(self, name: str) -> Any:
        if self.trusted_keys is not None:  # an import of a signed module: a signed file beside it
            return self._read_nbc(self.root / (name.replace(".", os.sep) + ".nbc"))
        if self._project is None:
            raise LoadError(f"module {name!r} is not loaded")
        return self._project.find(name)

    # ------------------------------------------------------------ upgrades

    def upgrade(self, what: "str | os.PathLike[str] | Source", run_tests: bool = False,
                before_swap: Callable[[], None] | None = None, allow_downgrade: bool = False) -> UpgradeReport:
        """Replace a loaded module by a new version of it, live (see the module docstring).

        `before_swap`, if given, runs once the new version has passed every check, just before
        state is migrated (`noodle run --watch` stops the running `main` there).  A version older
        than the running one is refused (an older release, even one signed by a trusted key, may
        be a replayed one: noodle.host.versions) unless `allow_downgrade` is true.
        """
        t0 = time.perf_counter()
        if self._gate.inside():
            raise UpgradeRejected("?", "an upgrade cannot start from inside a call into the same VM")
        with self._lock:
            try:
                module = self._module_file(what)
            except (CompileError, LoadError) as e:
                raise UpgradeRejected(_name_of(what), _first_line(e)) from None
            name = module.name
            old = self.machine.modules.get(name)
            if old is None or isinstance(old, _HostModule):
                raise UpgradeRejected(name, "no such module is loaded")
            try:
                image = build_image(module, self.machine.meter is not None)
            except LoadError as e:
                raise UpgradeRejected(name, _first_line(e)) from None
            if not allow_downgrade and is_downgrade(old.version, image.version):
                raise UpgradeRejected(name, f"version {image.version} is older than the running {old.version} "
                                            "(a downgrade): use vm.rollback(), or upgrade(..., allow_downgrade=True)")
            report = UpgradeReport(name, old.version, image.version)
            self._check_compatible(old, image, report)
            imported = [self._dependency(dep) for dep in image.imports]
            if run_tests:
                report.tests_passed = self._run_tests(image, imported)
            new = self.machine.instantiate(image, imported)
            new.module_file = module
            try:
                self.machine.call(new, new.functions["__init__"])
            except Exception as e:
                raise UpgradeRejected(name, f"the new version's top-level code failed: {_first_line(e)}") from None
            _diff_functions(old.image, image, report)
            if before_swap is not None:
                before_swap()
            t_swap = time.perf_counter()  # from here calls are held back: draining, migrating, switching
            with self._gate.closed():
                report.carried, report.dropped = _migrate(old, new)
                hook = new.functions.get("on_upgrade")
                if hook is not None:
                    try:
                        self.machine.call(new, hook, old.version)
                    except Exception as e:
                        raise UpgradeRejected(name, f"on_upgrade failed: {_first_line(e)}") from None
                originals = _swap(self.machine, old, new)
                report.swap_seconds = time.perf_counter() - t_swap
            versions = self._history.setdefault(name, [])
            versions.append(_Version(old, originals))
            del versions[:-self.history_size or None]
            report.total_seconds = time.perf_counter() - t0
            return report

    def rollback(self, name: str) -> UpgradeReport:
        """Bring back the version before the last upgrade; state of the same name and type keeps its
        current value, what the newer version dropped or retyped comes back as it was."""
        t0 = time.perf_counter()
        if self._gate.inside():
            raise UpgradeRejected(name, "a rollback cannot start from inside a call into the same VM")
        with self._lock:
            versions = self._history.get(name)
            if not versions:
                raise UpgradeRejected(name, "there is no earlier version to roll back to")
            current = self.machine.modules[name]
            previous = versions[-1]
            report = UpgradeReport(name, current.version, previous.lm.version, rollback=True)
            _diff_functions(current.image, previous.lm.image, report)
            t_swap = time.perf_counter()
            with self._gate.closed():
                previous.lm.namespace.update(previous.functions)  # its own functions again
                report.carried, report.restored = _migrate(current, previous.lm)
                _swap(self.machine, current, previous.lm)
                report.swap_seconds = time.perf_counter() - t_swap
            versions.pop()
            report.total_seconds = time.perf_counter() - t0
            return report

    def _check_compatible(self, old: LoadedModule, image: ModuleImage, report: UpgradeReport) -> None:
        """An export other loaded modules use must keep its type unless the major version goes up."""
        broken: dict[str, list[str]] = {}
        for other in self.machine.modules.values():
            if other.image is None or other.name == old.name:
                continue
            for used in other.image.uses.get(old.name, []):
                if image.exports.get(used) != old.image.exports.get(used):
                    broken.setdefault(other.name, []).append(used)
        if not broken:
            return
        detail = "; ".join(f"{imp} uses {', '.join(names)}" for imp, names in sorted(broken.items()))
        if _major(image.version) <= _major(old.version):
            raise UpgradeRejected(old.name, f"incompatible change to exports in use without a new major version "
                                            f"({old.version} -> {image.version}): {detail}")
        report.importers_to_upgrade = sorted(broken)

    def _dependency(self, name: str) -> Any:
        dep = self.machine.modules.get(name)
        if dep is None:
            dep = self.machine.load(self._find(name))
        return dep

    def _run_tests(self, image: ModuleImage, imported: list[Any]) -> int:
        trial = self.machine.instantiate(image, imported)  # a throwaway instance: tests may change state
        try:
            self.machine.call(trial, trial.functions["__init__"])
        except Exception as e:
            raise UpgradeRejected(image.name, f"the new version's top-level code failed: {_first_line(e)}") from None
        results: list[TestResult] = self.machine.run_tests(trial)
        failed = [r for r in results if not r.passed]
        if failed:
            r = failed[0]
            raise UpgradeRejected(image.name, f"test {r.name!r} failed: {r.error.message if r.error else '?'}"
                                              + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""))
        return len(results)


def _swap(machine: Machine, old: LoadedModule, new: LoadedModule) -> dict[str, Any]:
    """Make `new` the module: importers, host handles and code still running in `old` reach it."""
    exports = old.exports
    new.exports = exports
    exports.set_view(*new.view)  # one reference: atomic for every thread
    machine.modules[new.name] = new
    # code still running in the old version (a main loop) calls the new functions from now on
    originals: dict[str, Any] = {}
    new_by_name = {f.name: f"f{f.index}" for f in new.image.functions}
    for f in old.image.functions:
        key = f"f{f.index}"
        originals[key] = old.namespace.get(key)
        if f.name in new_by_name and f.kind in ("fn", "method"):
            old.namespace[key] = new.namespace[new_by_name[f.name]]
    return originals


def _migrate(source: LoadedModule, target: LoadedModule) -> tuple[list[str], list[str]]:
    """Copy module variables of the same name and type from `source` into `target`."""
    types = {name: (i, ty) for i, (name, _, ty) in enumerate(target.image.globals)}
    carried, other = [], []
    for i, (name, _, ty) in enumerate(source.image.globals):
        match = types.get(name)
        key = f"g{i}"
        if match is not None and match[1] == ty and key in source.namespace:
            target.namespace[f"g{match[0]}"] = source.namespace[key]
            carried.append(name)
        else:
            other.append(name)
    return carried, other


def _diff_functions(old: ModuleImage, new: ModuleImage, report: UpgradeReport) -> None:
    def table(image: ModuleImage) -> dict[str, str]:
        return {f.name: f.digest for f in image.functions if f.kind in ("fn", "method")}

    a, b = table(old), table(new)
    report.added = sorted(set(b) - set(a))
    report.removed = sorted(set(a) - set(b))
    report.changed = sorted(n for n in set(a) & set(b) if a[n] != b[n])


def _major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 0


def _first_line(e: BaseException) -> str:
    if isinstance(e, CompileError) and e.diagnostics:
        d = e.diagnostics[0]
        more = f" (and {len(e.diagnostics) - 1} more)" if len(e.diagnostics) > 1 else ""
        return f"{d.span}: error[{d.code}]: {d.message}{more}"
    if isinstance(e, NoodleRuntimeError):
        return f"{e.kind}: {e.message}"
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _name_of(what: Any) -> str:
    if isinstance(what, Source):
        return what.name
    return Path(what).stem
