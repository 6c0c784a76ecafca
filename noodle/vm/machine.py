"""The VM: links module images, runs them.

A :class:`Machine` owns the modules loaded into it (nothing is shared between
machines).  Loading a module takes its image (:mod:`noodle.vm.image`: the
verified bytecode translated into a Python code object, built on the spot
from a `.nbc` module or read from the cache), binds its natives, struct
classes and imported modules into a private namespace, and runs its
top-level code once.
"""
from __future__ import annotations

import builtins
import os
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any, Callable

from noodle.errors import LimitExceeded, LoadError, ProgramExit
from noodle.stdlib.natives import NATIVES, ExitSignal  # first: it registers the array natives too
from noodle.ir.variants import exact_alternatives, inexact_guards, native_guards  # noqa: I001
from noodle.runtime.linemap import CODE_REGISTRY, CodeInfo
from noodle.runtime.errors import NoodleRuntimeError, foreign, noodle_stack, runtime_error
from noodle.vm.image import ModuleImage, build_image
from noodle.vm.limits import Capabilities, Limits, LimitSignal, Meter
from noodle.vm import metering, pacing
from noodle.vm.ops import HELPERS
from noodle.runtime.values import ErrorValue, make_struct_class

#: Python frames per Noodle call are 1:1, so this is the documented Noodle call depth.
MAX_DEPTH = 10_000

#: The only Python builtins generated code can reach (the templates of natives use these).
_SAFE_BUILTINS = {name: getattr(builtins, name) for name in (
    "len", "list", "sorted", "min", "max", "any", "all", "enumerate", "zip", "divmod", "round", "range",
    "float", "int", "bool", "abs", "str", "repr")}


class Exports:
    """An importer's live view of a module's exported names (functions, structs, globals).

    One object per module name for the machine's lifetime: importers hold it, and a live
    upgrade redirects them all at once by replacing its view — a single reference, so the
    swap is atomic for every thread.
    """

    __slots__ = ("_view",)

    def __init__(self, ns: dict[str, Any], keys: dict[str, str]) -> None:
        self._view = (ns, keys)

    def __getitem__(self, name: str) -> Any:
        ns, keys = self._view
        return ns[keys[name]]

    def __contains__(self, name: str) -> bool:
        return name in self._view[1]

    def names(self) -> list[str]:
        return list(self._view[1])

    def set_view(self, ns: dict[str, Any], keys: dict[str, str]) -> None:
        self._view = (ns, keys)


class LoadedModule:
    """A module linked into a machine: its namespace, functions and exports."""

    __slots__ = ("name", "version", "image", "namespace", "exports", "functions", "module_file", "view")

    def __init__(self, image: ModuleImage, namespace: dict[str, Any], exports: Exports,
                 functions: dict[str, Callable[..., Any]]) -> None:
        self.name, self.version, self.image = image.name, image.version, image
        self.namespace, self.exports, self.functions = namespace, exports, functions
        #: the module file it came from, when the machine was given one (hosts compile against it)
        self.module_file: Any = None
        #: this version's own exports (namespace, names); `exports` may be shared by later versions
        self.view = exports._view

    def function(self, name: str) -> Callable[..., Any]:
        return self.functions[name]


class TestResult:
    __slots__ = ("name", "passed", "error")
    __test__ = False  # not a pytest class

    def __init__(self, name: str, passed: bool, error: NoodleRuntimeError | None = None) -> None:
        self.name, self.passed, self.error = name, passed, error


#: Finds an imported module by name: its image, or a verified ModuleFile to build one from.
ModuleFinder = "Callable[[str], Any]"


def _shown_name(native: str) -> str:
    """A native as the program names it: `input0`/`input1` (one native per arity) are `input`."""
    from noodle.stdlib.signatures import PRELUDE

    base = native.rstrip("0123456789")
    return base if native not in PRELUDE and base in PRELUDE else native


def _never(*_args: Any) -> bool:
    """An intent's guard under `--mode safe`: the library variant is never chosen."""
    return False


class Machine:
    """One VM instance: a registry of loaded modules."""

    def __init__(self, finder: ModuleFinder | None = None, source_root: str | None = None,
                 capabilities: Capabilities | None = None, limits: Limits | None = None,
                 backend: str | None = None, mode: str | None = None, args: "list[str] | None" = None) -> None:
        self.finder = finder
        #: the program's arguments, as `sys.args()` returns them (`noodle run FILE ARGS...`)
        self.args: list[str] = list(args or [])
        #: "auto" runs native variants where an image has them; "vm" runs everything translated;
        #: "opencl" is "auto" with every OpenCL dispatch taken wherever it can run, whatever the size
        self.backend = backend or os.environ.get("NOODLE_BACKEND", "auto")
        #: "optimized" lets recognised loops run variants that sum in another order (vectorised
        #: sums, BLAS); "safe" keeps every loop's own order, so results match the VM's to the bit
        self.mode = mode or os.environ.get("NOODLE_MODE", "optimized")
        #: per module: the native variants linked, or why none were (for --explain and tests)
        self.native_report: dict[str, str] = {}
        #: where the program's sources are; stack traces show their paths relative to the working directory
        self.source_root = source_root
        #: what Noodle code may touch; a bare Machine (the `noodle` command's) grants everything
        self.capabilities = capabilities if capabilities is not None else Capabilities.all()
        self.limits = limits if limits is not None else Limits()
        #: with limits, modules are translated as metered code counting steps and depth on this meter
        self.meter: Meter | None = Meter(self.limits, {}) if self.limits.any else None
        self._native_code: bool | None = None  # see native_code()
        self._contexts: Any = None  # see native_contexts()
        self.modules: dict[str, LoadedModule] = {}
        self._random: dict[str, Callable[..., Any]] | None = None
        self._loading: list[str] = []
        #: runs `parallel.map`/`parallel.reduce` (noodle.parallel.runner.ParallelRunner, installed by a
        #: host); None runs them inline
        self.parallel: Any = None
        if sys.getrecursionlimit() < MAX_DEPTH + 200:
            sys.setrecursionlimit(MAX_DEPTH + 200)

    def load(self, module: Any, run_init: bool = True) -> LoadedModule:
        """Link and initialise a module — a :class:`ModuleImage` or a verified ModuleFile —
        and, through the finder, what it imports."""
        metered = self.meter is not None
        image = module if isinstance(module, ModuleImage) else build_image(module, metered)
        if image.metered != metered:
            raise LoadError(f"module {image.name!r} was translated {'with' if image.metered else 'without'} "
                            f"metering, which this VM {'does not use' if image.metered else 'needs'}")
        if image.name in self._loading:
            cycle = " -> ".join(self._loading[self._loading.index(image.name):] + [image.name])
            raise LoadError(f"import cycle: {cycle}")
        self._loading.append(image.name)
        try:
            imported = []
            for name in image.imports:
                dep = self.modules.get(name)
                if dep is None:
                    if self.finder is None:
                        raise LoadError(f"module {name!r} is not loaded and there is no module finder")
                    dep = self.load(self.finder(name))
                imported.append(dep)
            lm = self.instantiate(image, imported)
            self.modules[image.name] = lm
        finally:
            self._loading.pop()
        if run_init:
            self.call(lm, lm.functions["__init__"])
        return lm

    def instantiate(self, image: ModuleImage, imported: list[LoadedModule]) -> LoadedModule:
        ns: dict[str, Any] = dict(HELPERS)
        ns["__builtins__"] = _SAFE_BUILTINS
        for key, name in image.natives.items():
            native = NATIVES.get(name)
            if native is None and name.startswith("py."):  # the FFI's natives: registered when first needed
                import noodle.vm.pyffi.natives  # noqa: F401 - (a program without `import py` never pays for it)
                native = NATIVES.get(name)
            if native is None:
                raise LoadError(f"module {image.name!r} needs the native {name!r}, which this VM lacks")
            if native.capability == "py_import" and not self.capabilities.grants("py_import"):
                # refused at load time, not when the code runs: the host decides before anything runs
                raise LoadError(f"module {image.name!r} uses Python (`import py`), which needs the py_import "
                                "capability; this VM does not grant it")
            ns[key] = self.bind_native(native)
        if self.limits.max_seconds is not None and any(n.startswith(("array.", "blas."))
                                                       for n in image.natives.values()):
            # NumPy is imported on an Array's first use, a few tenths of a second on a busy machine:
            # at load time, not inside the first call, whose time limit it would eat into
            from noodle.stdlib.arrays import np
            np()
        if self.meter is not None:
            ns["_M"] = self.meter
            meter = self.meter  # operators that charge for the work they do; under a time limit the
            if self.limits.max_seconds is None:  # conversion to text is held to the deadline too
                ns.update(metering.helpers(meter))
            else:
                ns.update(metering.helpers(meter, lambda x: pacing.text_of(x, meter),
                                           lambda x: pacing.text_size(x, meter),
                                           lambda x, c: pacing.contains(x, c, meter)))
        for i, (sname, fields, _) in enumerate(image.structs):
            ns[f"S{i}"] = make_struct_class(sname, list(fields), image.name)
        for i, dep in enumerate(imported):
            ns[f"M{i}"] = dep.exports
        source_file = image.source_file
        if self.source_root is not None:
            import os
            source_file = os.path.normpath(os.path.join(self.source_root, source_file))
        CODE_REGISTRY[image.code.co_filename] = CodeInfo(source_file, image.linemap, image.pysource)
        exec(image.code, ns)  # noqa: S102 - translated from verified bytecode, see noodle.vm.translate
        if image.native is not None and self.backend in ("auto", "opencl"):
            self.link_native(image, ns)
        functions: dict[str, Callable[..., Any]] = {}
        keys: dict[str, str] = {}
        for f in image.functions:
            fn = ns[f"f{f.index}"]
            fn.__noodle_name__ = f.display
            functions[f.name] = fn
            if f.exported and f.kind in ("fn", "method"):
                keys[f.name] = f"f{f.index}"
        for i, (sname, _, exported) in enumerate(image.structs):
            if exported:
                keys[sname] = f"S{i}"
        for i, (gname, exported, _) in enumerate(image.globals):
            if exported:
                keys[gname] = f"g{i}"
        return LoadedModule(image, ns, Exports(ns, keys), functions)

    def native_code(self) -> bool:
        """Will this machine run native code (the `auto` backend, llvmlite present)?  Native code
        holds every limit (noodle.vm.limits: steps, depth, memory and time, through its context)."""
        if self._native_code is None:
            from noodle.vm.native import available
            self._native_code = self.backend in ("auto", "opencl") and available()
        return self._native_code

    def _native_stopped(self, status: int) -> None:
        """A native call that stopped and cannot be re-run: the limit that stopped it, if one did."""
        if self.meter is not None:
            self.meter.native_stopped(status)

    def native_contexts(self) -> Any:
        """Where this machine's native calls get their contexts: the meter (limits), or one per thread."""
        if self.meter is not None:
            return self.meter
        if self._contexts is None:
            from noodle.vm.native import contexts
            self._contexts = contexts()
        return self._contexts

    def link_native(self, image: ModuleImage, ns: dict[str, Any]) -> None:
        """Put the image's native variants in place of their translated functions (VM fallback on failure).

        The report names what runs natively and each function the backend could not take, with why."""
        refused: dict[str, str] = image.native[2] if len(image.native) > 2 else {}
        if "" in refused:  # the backend failed as a whole: everything runs in the VM
            self.native_report[image.name] = f"native code unavailable: {refused['']}"
            return
        in_vm = "".join(f"; VM: {name} ({why})" for name, why in sorted(refused.items()))
        if not image.native[1]:
            self.native_report[image.name] = in_vm[2:]  # "VM: ..."
            return
        try:
            from noodle.vm.native import link
            displays = {f.name: f.display for f in image.functions}
            index = {f.name: f.index for f in image.functions}
            fallbacks = {entry[0]: ns[f"f{index[entry[0]]}"] for entry in image.native[1] if entry[0] in index}
            natives = link(image.native, displays, fallbacks, exact=self.mode == "safe", on_stop=self._native_stopped,
                           context=self.native_contexts())
        except Exception as e:  # noqa: BLE001 - no llvmlite, or a JIT failure: the VM runs everything
            self.native_report[image.name] = f"native code unavailable: {type(e).__name__}: {e}"
            return
        if self.meter is not None and self.limits.max_seconds is not None:
            self.meter.shared["native_deadlines"] = True  # each call's deadline must reach native code too
        index = {f.name: f.index for f in image.functions}
        for name, fn in natives.items():
            ns[f"f{index[name]}"] = fn
        self.native_report[image.name] = "native: " + ", ".join(sorted(natives)) + in_vm

    def bind_native(self, native: Any) -> Callable[..., Any]:
        """A native as this VM grants it: denied without its capability, bounded by its limits."""
        if not self.capabilities.grants(native.capability):
            message = f"{_shown_name(native.name)} needs the {native.capability} capability, which this VM does not grant"

            def denied(*args: Any) -> Any:
                raise ErrorValue("PermissionError", message)
            return denied
        if native.name.startswith("opencl."):  # an OpenCL dispatch (noodle.ir.kernels)
            from noodle.vm.native import opencl_native
            return opencl_native(native.name, forced=self.backend == "opencl", safe=self.mode == "safe",
                                 vm_only=self.backend == "vm" or self.meter is not None)
        if self.mode == "safe" and native.name in inexact_guards():
            return _never  # every intent runs its loops as written, in their order
        if native.name in native_guards() and not self.native_code():
            return _never  # a native variant (a fused loop) would run in the VM: NumPy is faster
        if self.mode == "safe" and native.name in (exact := exact_alternatives()):
            return NATIVES[exact[native.name]].impl  # a fused expression computed as written
        if native.name == "time.sleep" and self.meter is not None:
            return self.meter.sleep
        if native.name in ("parallel.map", "parallel.reduce"):
            return self._parallel_native(native)
        if native.name == "sys.args":
            return lambda: list(self.args)
        if self.meter is not None and native.name in metering.COSTS:
            impl, cost = self._impl(native), metering.COSTS[native.name]
            if self.limits.max_seconds is not None:  # one call must not run far past the deadline either
                impl = pacing.paced(native.name, impl, self.meter)
                cost = pacing.paced_cost(native.name, cost, self.meter)
            return metering.charged(impl, cost, self.meter)
        return self._impl(native)

    def _impl(self, native: Any) -> Callable[..., Any]:
        if native.name.startswith("random.") or native.name == "array.rand":
            if self._random is None:
                from noodle.stdlib.natives import LazyRandom, random_natives
                self._random = random_natives(LazyRandom())  # this machine's own generator
            return self._random[native.name]
        return native.impl

    def _parallel_native(self, native: Any) -> Callable[..., Any]:
        """`parallel.*` through the runner installed when called (a host may install it after loading)."""
        method = native.name.split(".", 1)[1]
        serial = native.impl

        def run(*args: Any) -> Any:
            runner = self.parallel
            return serial(*args) if runner is None else getattr(runner, method)(*args)
        return run

    def call(self, lm: LoadedModule, fn: Callable[..., Any], *args: Any) -> Any:
        """Run Noodle code; an uncaught Noodle error becomes :class:`NoodleRuntimeError`,
        a limit hit :class:`LimitExceeded` (the machine stays usable)."""
        meter = self.meter
        outermost = meter is not None and not meter.active
        try:
            if outermost:  # in the try: a budget that cannot be set up (memory unmeasurable) is a limit hit
                meter.start()  # type: ignore[union-attr]
            return fn(*args)
        except NoodleRuntimeError:
            raise
        except LimitSignal as e:
            if not outermost:
                raise
            raise LimitExceeded(e.limit, e.message, noodle_stack(e.__traceback__)) from None
        except ExitSignal as e:
            raise ProgramExit(e.code) from None
        except Exception as e:  # every fault inside VM code is a Noodle error; the host's own go back to it
            if foreign(e):
                raise
            raise runtime_error(e) from None
        finally:
            if outermost:
                meter.stop()  # type: ignore[union-attr]

    def run_main(self, lm: LoadedModule) -> None:
        if lm.image.entry is not None:
            self.call(lm, lm.functions[lm.image.entry])

    def run_tests(self, lm: LoadedModule) -> list[TestResult]:
        results = []
        for name, func in lm.image.tests:
            try:
                self.call(lm, lm.functions[func])
                results.append(TestResult(name, True))
            except NoodleRuntimeError as e:
                results.append(TestResult(name, False, e))
        return results


__all__ = ["Machine", "LoadedModule", "TestResult", "ErrorValue", "MAX_DEPTH"]
