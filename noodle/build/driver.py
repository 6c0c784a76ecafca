"""The compiler driver: the whole pipeline, readable in one place.

    source ──parse──▶ AST ──check──▶ typed IR ──passes──▶ optimised IR ──emit──▶ .nbc ModuleFile

:class:`Project` compiles a program's modules from its source root (the
directory of the main file), resolving `import a.b` to `a/b.nd`, and keeps
compiled modules in `__noodlecache__/` next to the sources, reusing one while
its source hash, and the hashes of the modules it imports, still match.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from noodle.compiler import ast
from noodle.compiler.checker import check
from noodle.compiler.diagnostics import CompileError, Diagnostic, DiagnosticBag, did_you_mean
from noodle.compiler.lint import lint
from noodle.compiler.parser import parse
from noodle.compiler.record import Recorder
from noodle.compiler.scope import FuncInfo, ModuleInterface, StructInfo
from noodle.backends.bytecode.emitter import emit_module
from noodle.ir import nodes as ir
from noodle.ir.passes import run_passes
from noodle.ir.types import FnT, parse_type
from noodle.format.cache import identifier, module_path, write_cached
from noodle.deepstack import call_deep
from noodle.errors import LoadError
from noodle.format.module_file import ModuleFile, source_hash
from noodle.vm.cache import read_cached


@dataclass(slots=True)
class CompileOptions:
    opt_level: int = 1
    use_cache: bool = True
    #: called with (pass name, module IR) after each pass over the program's main module
    observe_passes: "Callable[[str, ir.Module], None] | None" = None
    #: warning codes not reported ("all" for every one), and codes reported as errors (stopping the build)
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    #: intents given an OpenCL dispatch (noodle.backends.opencl.selection.offered); modules built
    #: with any are not cached (the cache holds the build every run of the program can use)
    offload: frozenset[str] = frozenset()
    #: receives, per recognised nest, its OpenCL kernel or why it has none (`noodlec --explain`)
    offload_report: "list | None" = None

    def keeps(self, code: str) -> bool:
        """Is a warning with this code reported?"""
        return code in self.deny or not (code in self.allow or "all" in self.allow)


@dataclass(slots=True)
class Compiled:
    """One compiled module: its IR (when compiled in this process) and its module file."""

    name: str
    path: Path | None
    module: ModuleFile
    ir: ir.Module | None = None
    from_cache: bool = False


def _path_text(path: str) -> str:
    """`path` as text a module can hold: a file name's byte that is not UTF-8 (which Python reads as
    a lone surrogate, and no module file can store) is written `\\xff` instead."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def compile_source(source: str, file: str, name: str, resolver=None, opt_level: int = 1,
                   interfaces: dict[str, ModuleInterface] | None = None,
                   expected_name: str | None = None,
                   observe_passes: "Callable[[str, ir.Module], None] | None" = None,
                   warnings: "list[Diagnostic] | None" = None,
                   options: CompileOptions | None = None,
                   offload: frozenset[str] = frozenset(),
                   offload_report: "list | None" = None,
                   recorder: "Recorder | None" = None) -> tuple[ir.Module, ModuleFile]:
    """Compile one module's text: parse, check and lower, lint, optimise, emit.  Raises CompileError.

    `interfaces` holds what the modules compiled so far export (the resolver
    adds to it); `expected_name`, for an imported module, is the name its
    header must give.  `observe_passes(name, module_ir)` is called after each pass.
    Warnings (those `options` keeps) are appended to `warnings`; a denied one is an error.
    `offload` (or `options.offload`): the intents given OpenCL dispatches; `offload_report` (or
    `options.offload_report`) receives each recognised nest's kernel or why it has none.
    `recorder` (editors) is given each expression's type and each name's meaning as it is checked.
    """
    interfaces = interfaces if interfaces is not None else {}
    options = options or CompileOptions(opt_level)
    tree = parse(source, file)                                                  # 1. parse
    # the passes below recurse over expressions: a long flat chain (`a + b + ...`) gets room for it
    return call_deep(lambda: _compile_tree(tree, source, file, name, resolver, opt_level, interfaces,
                                           expected_name, observe_passes, warnings, options, offload,
                                           offload_report, recorder), tree.deepest)


def _compile_tree(tree: ast.Module, source: str, file: str, name: str, resolver, opt_level: int,
                  interfaces: dict[str, ModuleInterface], expected_name: str | None,
                  observe_passes: "Callable[[str, ir.Module], None] | None",
                  warnings: "list[Diagnostic] | None", options: CompileOptions,
                  offload: frozenset[str], offload_report: "list | None",
                  recorder: "Recorder | None") -> tuple[ir.Module, ModuleFile]:
    """compile_source after the parse: check and lower, lint, optimise, emit."""
    diags = DiagnosticBag()
    module_ir = check(tree, name, diags, resolver, interfaces, expected_name,  # 2. check, lower to IR
                      recorder=recorder)
    diags.raise_if_errors({file: source})
    lint(tree, diags)                                                            #    warnings
    for d in sorted(diags.warnings, key=lambda d: (d.span.line, d.span.col)):
        if d.code in options.deny:
            d.severity = "error"
        elif options.keeps(d.code) and warnings is not None:
            warnings.append(d)
    diags.raise_if_errors({file: source})
    if observe_passes is not None:
        observe_passes("", module_ir)  # as lowered, before the first pass
    run_passes(module_ir, opt_level, observe_passes, offload or options.offload,  # 3. optimise
               offload_report if offload_report is not None else options.offload_report)
    module = emit_module(module_ir, source_hash(source))                       # 4. emit bytecode
    for imp in module.imports:
        dep = interfaces.get(imp.module)
        if dep is not None:
            imp.version, imp.hash = dep.version, dep.source_hash
    return module_ir, module


def interface_of(module: ModuleFile) -> ModuleInterface:
    """What a compiled module exports, read back from its module file."""
    iface = ModuleInterface(module.name, module.version, source_hash=module.source_hash)
    structs: dict[str, object] = {}
    for s in module.structs:
        if not s.exported:
            continue
        info = StructInfo(s.name, module.name, parse_type(f"{module.name}.{s.name}"))  # type: ignore[arg-type]
        info.field_names = list(s.fields)
        info.field_types = [parse_type(t) for t in s.field_types]
        info.defaults = [ir.Const(value=v, ty=t) if has else None
                         for v, has, t in zip(s.defaults or [None] * len(s.fields),
                                              s.has_default or [False] * len(s.fields), info.field_types)]
        iface.structs[s.name] = info
        structs[s.name] = info
    for f in module.functions:
        if not f.exported or f.kind not in ("fn", "method"):
            continue
        sig = parse_type(f.signature)
        if not isinstance(sig, FnT):
            continue
        if f.kind == "method":
            sname, _, mname = f.name.partition(".")
            if sname in iface.structs:
                s_info = iface.structs[sname]
                s_info.methods[mname] = FuncInfo(f.name, f.display, list(f.local_names[: f.nparams]),
                                                 list(sig.params), sig.ret, struct=s_info)
        else:
            iface.functions[f.name] = sig
            iface.param_names[f.name] = list(f.local_names[: f.nparams])
    for g in module.globals:
        if g.exported:
            iface.globals[g.name] = (parse_type(g.type), g.mutable)
    return iface


@dataclass
class Project:
    """The modules of one program, compiled from a source root with an on-disk cache."""

    root: Path
    options: CompileOptions = field(default_factory=CompileOptions)
    compiled: dict[str, Compiled] = field(default_factory=dict)
    #: what every module compiled (or loaded from the cache) so far exports, by module name
    interfaces: dict[str, ModuleInterface] = field(default_factory=dict)
    #: modules provided from outside the source tree (a host's modules, modules a VM already runs)
    external: dict[str, ModuleInterface] = field(default_factory=dict)
    _in_progress: list[str] = field(default_factory=list)
    #: warnings of every module compiled (or taken from the cache), and the sources they point into
    warnings: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    #: texts that stand for files on disk (an editor's unsaved documents), by resolved path
    overrides: dict[Path, str] = field(default_factory=dict)
    #: modules whose checking is recorded for an editor (noodle.compiler.record), by module name
    recorders: "dict[str, Recorder]" = field(default_factory=dict)

    def module_path(self, name: str) -> Path:
        return Path(module_path(self.root, name))

    def name_for(self, path: Path) -> str:
        """The module name of the program's main file: its name, made an identifier (`my-app` → `my_app`)."""
        return identifier(path.stem)

    # -- compiling
    def compile_file(self, path: Path, display: str | None = None) -> Compiled:
        name = self.name_for(path)
        return self.compile_module(name, path, display)

    def compile_module(self, name: str, path: Path, display: str | None = None, imported: bool = False,
                       source: str | None = None) -> Compiled:
        """Compile (or take from the cache) module `name` from `path`, or from `source` when given."""
        if name in self.compiled:
            return self.compiled[name]
        if source is None and self.overrides:
            source = self.overrides.get(path.resolve())
        if source is None:
            source = read_source(path, display)
        file = _path_text(display if display is not None else os.path.relpath(path))
        cached = self.try_cache(name, source)
        if cached is not None:
            for imp in cached.imports:  # their interfaces describe the types this module's exports use
                self.compile_module(imp.module, self.module_path(imp.module), os.path.relpath(self.module_path(imp.module)),
                                    imported=True)
            result = Compiled(name, path, cached, None, True)
            self._replay_warnings(name, file, source)
        else:
            self._in_progress.append(name)
            found: list[Diagnostic] = []
            try:
                module_ir, module = compile_source(source, file, name, self.resolve_import, self.options.opt_level,
                                                   self.interfaces, expected_name=name if imported else None,
                                                   observe_passes=None if imported else self.options.observe_passes,
                                                   warnings=found, options=self.options,
                                                   recorder=self.recorders.get(name))
            except CompileError as e:
                e.sources.setdefault(file, source)  # import errors are found while this file is checked
                raise
            finally:
                self._in_progress.pop()
            # stack traces name files relative to the source root, whatever directory compiled them
            module.source_file = _path_text(os.path.relpath(path, self.root))
            result = Compiled(name, path, module, module_ir, False)
            self.write_cache(name, module)
            self._keep_warnings(name, file, source, found)
        self.compiled[name] = result
        self.interfaces[name] = interface_of(result.module)
        return result

    def resolve_import(self, dep: str, span: ast.Span) -> ModuleInterface | None:
        if dep in self.external:
            return self.external[dep]
        if dep in self._in_progress:
            cycle = " -> ".join(self._in_progress[self._in_progress.index(dep):] + [dep])
            raise CompileError([_diag("E0402", f"import cycle: {cycle}", span)])
        path = self.module_path(dep)
        if not path.is_file():
            nearby = [p.stem for p in path.parent.glob("*.nd")] if path.parent.is_dir() else []
            from noodle.format.search_path import ManifestError, search_roots
            try:
                roots = search_roots(self.root)
            except ManifestError as e:
                raise CompileError([_diag("E0400", f"cannot read the project manifest: {e}", span)]) from None
            rel = os.path.join(*dep.split(".")) + ".nd"
            looked = ", ".join(os.path.relpath(os.path.join(r, rel)) for r in roots)
            raise CompileError([_diag("E0400", f"module `{dep}` not found (looked for {looked})", span,
                                      did_you_mean(path.stem, nearby))])
        self.compile_module(dep, path, os.path.relpath(path), imported=True)
        return self.interfaces[dep]

    def _keep_warnings(self, name: str, file: str, source: str, found: "list[Diagnostic]") -> None:
        self.warnings += found
        if found:
            self.sources[file] = source
        if self.caching:  # a later start from the cache shows them again (noodle.format.cache)
            from noodle.format.cache import write_warnings
            write_warnings(self.root, name, [dict(d.to_json(), rendered=d.render(source.splitlines(), {file: source}))
                                             for d in found])

    def _replay_warnings(self, name: str, file: str, source: str) -> None:
        from noodle.format.cache import read_warnings

        for w in read_warnings(self.root, name) or []:
            if not self.options.keeps(w.get("code", "")):
                continue
            span = ast.Span(file, w["line"], w["col"], w["end_line"], w["end_col"])
            related = [(ast.Span(file, r["line"], r["col"], r["end_line"], r["end_col"]), r["message"])
                       for r in w.get("related", [])]
            self.warnings.append(Diagnostic(w["code"], w["message"], span, w.get("hint"), list(w.get("notes", [])),
                                            "warning", related))
            self.sources[file] = source

    # -- the cache (shared with the VM's fast start, see noodle.vm.cache)
    def try_cache(self, name: str, source: str) -> ModuleFile | None:
        return read_cached(self.root, name, source) if self.caching else None

    def write_cache(self, name: str, module: ModuleFile) -> None:
        if self.caching:
            write_cached(self.root, name, module)

    @property
    def caching(self) -> bool:
        # the cache holds -O1 builds only (the default), so other levels never mix with them; a build
        # that denies warnings must see every module's warnings, so it compiles everything afresh; a
        # build with OpenCL dispatches is not the one every run can use
        return self.options.use_cache and self.options.opt_level == 1 and not self.options.deny \
            and not self.options.offload

    def find(self, name: str) -> ModuleFile:
        """The machine's module finder: compiled (or cached) module by name."""
        if name not in self.compiled:
            if name in self.external:
                raise LoadError(f"module {name!r} is provided by the host but is not registered in this VM")
            path = self.module_path(name)
            self.compile_module(name, path, os.path.relpath(path), imported=True)
        return self.compiled[name].module


def read_source(path: Path, display: str | None = None) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CompileError([_diag("E0400", f"cannot read {display or path}: {e.strerror}",
                                  ast.Span(str(display or path), 1, 1, 1, 1))]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CompileError([_diag("E0002", f"source is not valid UTF-8 (byte {e.start})",
                                  ast.Span(str(display or path), 1, 1, 1, 1))]) from None


def _diag(code: str, message: str, span: ast.Span, hint: str | None = None):
    bag = DiagnosticBag()
    return bag.error(code, message, span, hint)


class PassTrace:
    """The IR of a module as lowered and after each pass, as text: `noodlec --emit ir-passes`, golden tests.

    A pass that changed nothing is one line (`== after dce: unchanged ==`), so what each pass did
    reads as the difference between consecutive sections.
    """

    def __init__(self) -> None:
        self.sections: list[str] = []
        self._last = ""

    def __call__(self, name: str, module: ir.Module) -> None:
        from noodle.ir.printer import print_module

        text = print_module(module)
        if not name:
            self.sections.append(f"== lowered ==\n{text}")
        elif text == self._last:
            self.sections.append(f"== after {name}: unchanged ==\n")
        else:
            self.sections.append(f"== after {name} ==\n{text}")
        self._last = text

    def text(self) -> str:
        return "".join(s if s.endswith("\n") else s + "\n" for s in self.sections)
