"""The VM: loads verified modules, links their imports, runs them.

A :class:`Machine` owns the modules loaded into it (nothing is shared between
machines).  Loading a module translates its bytecode into Python functions
(:mod:`noodle.vm.translate`), binds its natives, struct classes and imported
modules into a private namespace, and runs its top-level code once.
"""
from __future__ import annotations

import builtins
import itertools
import sys
from dataclasses import dataclass
from typing import Any, Callable

from noodle.stdlib.natives import NATIVES
from noodle.vm.errors import CODE_REGISTRY, CodeInfo, NoodleRuntimeError, runtime_error
from noodle.vm.module_file import LoadError, ModuleFile
from noodle.vm.ops import HELPERS
from noodle.vm.translate import translate_module
from noodle.vm.values import ErrorValue, make_struct_class

#: Python frames per Noodle call are 1:1, so this is the documented Noodle call depth.
MAX_DEPTH = 10_000

#: The only Python builtins generated code can reach (the templates of natives use these).
_SAFE_BUILTINS = {name: getattr(builtins, name) for name in (
    "len", "list", "sorted", "min", "max", "any", "all", "enumerate", "zip", "divmod", "round", "range",
    "float", "int", "bool", "abs", "str")}

_instance_ids = itertools.count(1)


class Exports:
    """An importer's live view of a module's exported names (functions, structs, globals)."""

    __slots__ = ("_ns", "_keys")

    def __init__(self, ns: dict[str, Any], keys: dict[str, str]) -> None:
        self._ns = ns
        self._keys = keys

    def __getitem__(self, name: str) -> Any:
        return self._ns[self._keys[name]]

    def __contains__(self, name: str) -> bool:
        return name in self._keys

    def names(self) -> list[str]:
        return list(self._keys)


@dataclass
class LoadedModule:
    name: str
    version: str
    file: ModuleFile
    namespace: dict[str, Any]
    exports: Exports
    functions: dict[str, Callable[..., Any]]

    def function(self, name: str) -> Callable[..., Any]:
        return self.functions[name]


@dataclass(frozen=True, slots=True)
class TestResult:
    name: str
    passed: bool
    error: NoodleRuntimeError | None = None


ModuleFinder = Callable[[str], ModuleFile]


class Machine:
    """One VM instance: a registry of loaded modules."""

    def __init__(self, finder: ModuleFinder | None = None) -> None:
        self.finder = finder
        self.modules: dict[str, LoadedModule] = {}
        self._loading: list[str] = []
        if sys.getrecursionlimit() < MAX_DEPTH + 200:
            sys.setrecursionlimit(MAX_DEPTH + 200)

    def load(self, mf: ModuleFile, run_init: bool = True) -> LoadedModule:
        """Link and initialise a verified module (and, through the finder, what it imports)."""
        if mf.name in self._loading:
            cycle = " -> ".join(self._loading[self._loading.index(mf.name):] + [mf.name])
            raise LoadError(f"import cycle: {cycle}")
        self._loading.append(mf.name)
        try:
            imported = []
            for imp in mf.imports:
                dep = self.modules.get(imp.module)
                if dep is None:
                    if self.finder is None:
                        raise LoadError(f"module {imp.module!r} is not loaded and there is no module finder")
                    dep = self.load(self.finder(imp.module))
                imported.append(dep)
            lm = self.instantiate(mf, imported)
            self.modules[mf.name] = lm
        finally:
            self._loading.pop()
        if run_init:
            self.call(lm, lm.functions["__init__"])
        return lm

    def instantiate(self, mf: ModuleFile, imported: list[LoadedModule]) -> LoadedModule:
        source, linemap, natives = translate_module(mf)
        filename = f"<noodle:{mf.name}#{next(_instance_ids)}>"
        ns: dict[str, Any] = dict(HELPERS)
        ns["__builtins__"] = _SAFE_BUILTINS
        for key, name in natives.items():
            ns[key] = NATIVES[name].impl
        for i, s in enumerate(mf.structs):
            ns[f"S{i}"] = make_struct_class(s.name, s.fields)
        for i, dep in enumerate(imported):
            ns[f"M{i}"] = dep.exports
        try:
            code = compile(source, filename, "exec")
        except (SyntaxError, RecursionError, MemoryError, ValueError) as e:
            raise LoadError(f"cannot translate bytecode: {type(e).__name__}: {e}") from None
        CODE_REGISTRY[filename] = CodeInfo(mf.source_file, linemap)
        exec(code, ns)  # noqa: S102 - generated from verified bytecode, see noodle.vm.translate
        functions: dict[str, Callable[..., Any]] = {}
        keys: dict[str, str] = {}
        for i, f in enumerate(mf.functions):
            if f.parent >= 0:
                continue
            fn = ns[f"f{i}"]
            fn.__noodle_name__ = f.display
            functions[f.name] = fn
            if f.exported and f.kind in ("fn", "method"):
                keys[f.name] = f"f{i}"
        for i, s in enumerate(mf.structs):
            if s.exported:
                keys[s.name] = f"S{i}"
        for i, g in enumerate(mf.globals):
            if g.exported:
                keys[g.name] = f"g{i}"
        ns["__noodle_source__"] = source
        return LoadedModule(mf.name, mf.version, mf, ns, Exports(ns, keys), functions)

    def call(self, lm: LoadedModule, fn: Callable[..., Any], *args: Any) -> Any:
        """Run Noodle code; an uncaught Noodle error becomes :class:`NoodleRuntimeError`."""
        try:
            return fn(*args)
        except NoodleRuntimeError:
            raise
        except Exception as e:  # every fault inside VM code is a Noodle error
            raise runtime_error(e) from None

    def run_main(self, lm: LoadedModule) -> None:
        if lm.file.entry >= 0:
            self.call(lm, lm.functions[lm.file.functions[lm.file.entry].name])

    def run_tests(self, lm: LoadedModule) -> list[TestResult]:
        results = []
        for t in lm.file.tests:
            fn = lm.functions[lm.file.functions[t.func].name]
            try:
                self.call(lm, fn)
                results.append(TestResult(t.name, True))
            except NoodleRuntimeError as e:
                results.append(TestResult(t.name, False, e))
        return results


__all__ = ["Machine", "LoadedModule", "TestResult", "ErrorValue", "MAX_DEPTH"]
