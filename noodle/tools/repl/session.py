"""The REPL's persistent session: each entry compiled and run once, state kept in a live module.

The session is one Noodle module, `repl`, that gets a new version with every
entry — the live-upgrade machinery of `noodle.VM` (:func:`noodle.host.embed._migrate`,
:func:`noodle.host.embed._swap`) carries the module's variables from one version to
the next, exactly as `noodle run --watch` does for a running program.

A version's source is the session's declarations so far (imports, functions,
structs, variables — a redefinition replaces the earlier one) followed by the
new entry.  Earlier entries' top-level code is never run again: after
checking, the REPL keeps only the new entry's statements in the module's
top-level function, and earlier variables are declared with a stand-in
initialiser (:mod:`noodle.tools.repl.placeholder`) while their values come
over from the previous version.  An entry is all or nothing: if it does not
compile, throws, or is interrupted (Ctrl-C), the previous version stays and
the session goes on.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from noodle.compiler import ast
from noodle.compiler.diagnostics import Diagnostic
from noodle.errors import CompileError, LoadError
from noodle.ir import nodes as ir
from noodle.ir.types import Type, resolve
from noodle.tools.repl.entry import Declaration, declarations
from noodle.tools.repl.placeholder import Placeholders, Unwritable

MODULE = "repl"
ECHO = "__echo"
ENTRY_FILE = "<repl>"


@dataclass
class Outcome:
    """What one entry did: kept or not, the echoed value, the rendered error."""

    kept: bool
    echo: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Layout:
    """Where each part of a version's source came from, to point diagnostics back at it."""

    entry_line: int  # first line of the new entry in the version's source
    parts: list[tuple[int, int, Declaration]]  # (first line, last line, declaration)

    def locate(self, line: int, entry: str) -> tuple[str, int, str | None]:
        """(file, line, source text of that file) for a line of the version's source."""
        if line >= self.entry_line:
            return ENTRY_FILE, line - self.entry_line + 1, entry
        for first, last, decl in self.parts:
            if first <= line <= last:
                return decl.origin, line - first + 1, decl.text
        return ENTRY_FILE, 1, None


class Session:
    """A persistent REPL session (see the module docstring)."""

    def __init__(self, root: "str | os.PathLike[str] | None" = None) -> None:
        from noodle.build.driver import CompileOptions, Project
        from noodle.vm.machine import Machine

        self.root = Path(root) if root is not None else Path.cwd()
        self.project = Project(self.root, CompileOptions(1, use_cache=False))
        self.machine = Machine(self.project.find, source_root=None)
        self.decls: list[Declaration] = []
        self.count = 0  # entries seen (numbers the `<repl#N>` origins)
        self.current: Any = None  # the LoadedModule of the session's latest version
        self.module_ir: ir.Module | None = None
        self.types: dict[str, Type] = {}  # the session's variables and their types
        #: earlier versions: a closure an earlier entry stored still runs in its own version's namespace
        self.earlier: list[Any] = []

    # ------------------------------------------------------------ compiling

    def _version_source(self, entry: str, replaced: set[str],
                        changed_structs: set[str]) -> tuple[str, _Layout, list[Declaration]]:
        kept = [d for d in self.decls if not (set(d.names) & replaced) and not self._stale(d, changed_structs)]
        lines: list[str] = []
        parts = []
        for d in kept:
            first = len(lines) + 1
            lines.extend(d.text.split("\n"))
            parts.append((first, len(lines), d))
        layout = _Layout(len(lines) + 1, parts)
        return "\n".join(lines + [entry]) + "\n", layout, kept

    def compile(self, entry: str, echo: bool = True) -> tuple[ir.Module, Any, _Layout, list[Declaration], list[Declaration]]:
        """Compile the session plus `entry`; raises CompileError with diagnostics pointing into the entry."""
        from noodle.backends.bytecode.emitter import emit_module
        from noodle.compiler.checker import check
        from noodle.compiler.diagnostics import DiagnosticBag
        from noodle.compiler.parser import parse
        from noodle.ir.passes import run_passes
        from noodle.format.module_file import source_hash

        self.count += 1
        tree = parse(entry, ENTRY_FILE)  # syntax errors point into the entry as typed
        new_decls = declarations(tree, entry, f"<repl#{self.count}>")
        replaced = {n for d in new_decls for n in d.names}
        changed_structs = {d.names[0] for d in new_decls if d.kind == "struct"}
        source, layout, kept = self._version_source(entry, replaced, changed_structs)
        diags = DiagnosticBag()
        try:
            full = parse(source, MODULE)
            module_ir = check(full, MODULE, diags, self.project.resolve_import, self.project.interfaces)
        except CompileError as e:
            raise self._relocate(e, layout, entry) from None
        if diags.has_errors:
            raise self._relocate(CompileError(diags.items), layout, entry)
        last = tree.items[-1] if tree.items else None
        self._keep_entry_code(module_ir, layout.entry_line, last if echo else None)
        run_passes(module_ir, 1)
        module = emit_module(module_ir, source_hash(source))
        module.source_file = MODULE
        return module_ir, module, layout, kept, new_decls

    @staticmethod
    def _keep_entry_code(module_ir: ir.Module, entry_line: int, last: object) -> None:
        """Drop earlier entries' top-level code; bind a trailing expression's value for the echo."""
        init = next(f for f in module_ir.functions if f.name == module_ir.init)
        init.body = [s for s in init.body if s.line >= entry_line]
        if isinstance(last, ast.ExprStmt) and init.body and isinstance(init.body[-1], ir.ExprStmt):
            stmt = init.body[-1]
            ty = resolve(stmt.expr.ty)
            if str(ty) != "none":
                init.body[-1] = ir.GlobalSet(name=ECHO, value=stmt.expr, line=stmt.line, col=stmt.col)
                module_ir.globals.append(ir.GlobalDef(name=ECHO, ty=ty, mutable=True, exported=False))

    def _relocate(self, error: CompileError, layout: _Layout, entry: str) -> CompileError:
        """The same diagnostics, with spans in the entry (or the earlier entry a definition came from)."""
        out, sources = [], {}
        for d in error.diagnostics:
            s = d.span
            if s.file != MODULE:
                out.append(d)
                continue
            file, line, text = layout.locate(s.line, entry)
            _, end_line, _ = layout.locate(s.end_line, entry)
            span = ast.Span(file, line, s.col, max(end_line, line), s.end_col)
            out.append(Diagnostic(d.code, d.message, span, d.hint, list(d.notes), d.severity))
            if text is not None:
                sources[file] = text
        sources.update({k: v for k, v in error.sources.items() if k != MODULE})
        return CompileError(out, sources)

    # ------------------------------------------------------------ running

    def evaluate(self, entry: str, out: TextIO | None = None, err: TextIO | None = None) -> bool:
        """Compile and run one entry; print its output, echo and errors. True if it was kept.

        The program's own output goes to `out` too when it is given.
        """
        if out is not None and out is not sys.stdout:
            import contextlib
            with contextlib.redirect_stdout(out):
                outcome = self.run(entry)
        else:
            outcome = self.run(entry)
        out = out or sys.stdout
        err = err or sys.stderr
        for note in outcome.notes:
            err.write(f"note: {note}\n")
        if outcome.error is not None:
            out.flush()
            err.write(outcome.error + "\n")
        elif outcome.echo is not None:
            out.write(outcome.echo + "\n")
        return outcome.kept

    def run(self, entry: str) -> Outcome:
        from noodle.runtime.errors import NoodleRuntimeError
        from noodle.host.embed import _migrate, _swap
        from noodle.vm.image import build_image
        from noodle.runtime.values import nd_repr

        entry = entry.strip("\n")
        if not entry.strip():
            return Outcome(True)
        try:
            module_ir, module, layout, kept, new_decls = self.compile(entry)
        except CompileError as e:
            return Outcome(False, error=e.render())
        except KeyboardInterrupt:
            return Outcome(False, error="KeyboardInterrupt")
        try:
            image = build_image(module)
            imported = [self._dependency(name) for name in image.imports]
        except (LoadError, CompileError) as e:
            return Outcome(False, error=e.render() if isinstance(e, CompileError) else f"error: {e}")
        except NoodleRuntimeError as e:
            return Outcome(False, error=self._render_runtime(e, layout, entry))
        new = self.machine.instantiate(image, imported)
        new.module_file = module
        old = self.current
        if old is not None:
            _migrate(old, new)  # values of the same name and type; the entry's own assignments follow
        try:
            self.machine.call(new, new.functions["__init__"])
        except NoodleRuntimeError as e:
            return Outcome(False, error=self._render_runtime(e, layout, entry))
        except KeyboardInterrupt:
            return Outcome(False, error="KeyboardInterrupt")
        sys.stdout.flush()
        if old is not None:
            _swap(self.machine, old, new)
            self.earlier.append(old)
            for version in self.earlier:  # closures made by earlier entries see today's variables and functions
                _migrate(new, version)
                _redirect(version, new)
        else:
            self.machine.modules[MODULE] = new
        self.current = new
        echo = None
        for i, g in enumerate(module.globals):
            if g.name == ECHO:
                echo = nd_repr(new.namespace.get(f"g{i}"))
        notes = self._commit(module_ir, kept, new_decls)
        return Outcome(True, echo=echo, notes=notes)

    def _dependency(self, name: str) -> Any:
        dep = self.machine.modules.get(name)
        if dep is None:
            dep = self.machine.load(self.project.find(name))
        return dep

    def _commit(self, module_ir: ir.Module, kept: list[Declaration], new_decls: list[Declaration]) -> list[str]:
        """The session's declarations after a successful entry; variables rewritten with stand-ins."""
        self.module_ir = module_ir
        structs = {s.name: list(zip(s.field_names, s.field_types)) for s in module_ir.structs}
        holders = Placeholders(MODULE, structs)
        globals_ = {g.name: g for g in module_ir.globals if g.name != ECHO}
        changed_structs = {d.names[0] for d in new_decls if d.kind == "struct"}
        notes = [f"{', '.join(f'`{n}`' for n in d.names)} dropped: its type changed when "
                 f"{', '.join(sorted(changed_structs))} was redefined"
                 for d in self.decls if self._stale(d, changed_structs)]
        decls: list[Declaration] = list(kept)
        self.types = {name: resolve(g.ty) for name, g in globals_.items()}
        for d in new_decls:
            if d.kind == "global" and not d.text.lstrip().startswith("const"):
                try:
                    for n in d.names:
                        g = globals_[n]
                        decls.append(Declaration((n,), "global", holders.declaration(n, g.ty, g.mutable), d.origin))
                    continue
                except (Unwritable, KeyError):
                    decls = [x for x in decls if not (set(x.names) & set(d.names))]
            decls.append(d)
        self.decls = decls
        return notes

    def _stale(self, d: Declaration, changed_structs: set[str]) -> bool:
        """A variable whose type involves a struct being redefined: its value has the old fields."""
        return d.kind == "global" and bool(changed_structs) and any(
            _mentions(str(self.types[n]), changed_structs) for n in d.names if n in self.types)

    def _render_runtime(self, error: Any, layout: _Layout, entry: str) -> str:
        """A run-time error with its frames pointing into the entry, and the failing line shown."""
        from noodle.runtime.errors import Frame

        frames = []
        for f in error.stack:
            if f.file == MODULE:
                file, line, text = layout.locate(f.line, entry)
                frames.append((Frame(f.name, file, line, f.col), text))
            else:
                frames.append((f, None))
        lines = [f"{error.kind}: {error.message}"]
        lines += [str(f) for f, _ in frames]
        if frames and frames[-1][1] is not None:
            f, text = frames[-1]
            src = text.split("\n")
            if 1 <= f.line <= len(src):
                gutter = f"{f.line:>4} | "
                lines.append(gutter + src[f.line - 1].expandtabs(4))
                lines.append(" " * (len(gutter) + max(f.col - 1, 0)) + "^")
        return "\n".join(lines)

    # ------------------------------------------------------------ questions about the session

    def type_of(self, expr: str) -> str:
        """The static type of an expression in the session (`:type`), or its diagnostics."""
        try:
            return _display(str(self.static_type(expr)))
        except CompileError as e:
            return e.render()

    def static_type(self, expr: str) -> Type:
        """The type the checker gives `expr` in the session; raises CompileError."""
        module_ir = self.compile(f"let {ECHO} = {expr}", echo=False)[0]
        self.count -= 1  # a question, not an entry
        return next(resolve(g.ty) for g in module_ir.globals if g.name == ECHO)

    def imports(self) -> dict[str, str]:
        """The session's import aliases and the modules they name."""
        return {d.names[0]: d.module for d in self.decls if d.kind == "import" and d.module}

    def names(self) -> list[str]:
        return [n for d in self.decls for n in d.names if d.kind != "test"]


def _redirect(old: Any, new: Any) -> None:
    """An earlier version's functions, as its closures call them, become the newest version's."""
    newest = {f.name: f"f{f.index}" for f in new.image.functions if f.kind in ("fn", "method")}
    for f in old.image.functions:
        if f.name in newest:
            old.namespace[f"f{f.index}"] = new.namespace[newest[f.name]]


def _mentions(type_text: str, names: set[str]) -> bool:
    import re

    return any(re.search(rf"\b{MODULE}\.{re.escape(n)}\b|(?<![.\w]){re.escape(n)}\b", type_text) for n in names)


def _display(type_text: str) -> str:
    """A type as the user wrote it: the session's own structs without the module prefix."""
    return type_text.replace(f"{MODULE}.", "")
