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
initialiser (:mod:`noodle.tools.repl.placeholder`).

Every version is translated with *cells* (:class:`noodle.vm.translate.Translator`):
its code reaches a module variable as `g3.v` and a function as `f2.v(...)`, and
the session binds each name to one :class:`Cell` shared by all versions for as
long as its type (a function's signature) stays the same.  So a variable lives
in exactly one place: a closure made by an earlier entry reads and assigns the
same `count` as the entries after it, and calls the newest `f`; nothing is
copied between versions and no earlier version is visited again.  An entry is
all or nothing: if it does not compile, throws, or is interrupted (Ctrl-C),
the cells get their previous contents back and the session goes on.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from noodle.compiler import ast
from noodle.compiler.diagnostics import Diagnostic, add_comment_hints
from noodle.errors import CompileError, LoadError
from noodle.ir import nodes as ir
from noodle.ir.types import Type, resolve
from noodle.tools.repl.entry import Declaration, declaration_of, stub_functions, stub_text
from noodle.tools.repl.entry import _offsets as _line_starts
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

    entry_line: int  # first line of the new entry in the session
    parts: list[tuple[int, int, Declaration]]  # (first line, last line, declaration)
    entry_text: str = ""

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
        self.line = 0  # the last line given to an entry: each entry's lines are its own for good
        self.stubbed: set[str] = set()  # the functions the latest version compiled as stubs
        self.current: Any = None  # the LoadedModule of the session's latest version
        self.module_ir: ir.Module | None = None
        self.types: dict[str, Type] = {}  # the session's variables and their types
        self.structs: dict[str, ir.StructDef] = {}  # the session's structs as last compiled
        self.by_name: dict[str, Declaration] = {}  # each name the session binds, and its declaration
        #: the session's variables and functions: name -> (type text or signature, cell)
        self.global_cells: dict[str, tuple[str, Cell]] = {}
        self.function_cells: dict[str, tuple[str, Cell]] = {}
        #: the functions whose code the latest entry compiled (earlier ones it compiled as stubs):
        #: the work an entry does, which tests check stays the same as a session grows
        self.defined: list[str] = []

    # ------------------------------------------------------------ compiling

    def _version(self, base: ast.Module, first_line: int, new_decls: list[Declaration], entry: str, whole: bool
                 ) -> tuple[ast.Module, _Layout, list[Declaration], set[str]]:
        """The syntax tree of the session's next version, its layout, the kept declarations and the
        functions stubbed.

        Unless `whole`, the version holds only the declarations the entry names, and what those
        name in turn (as stubs where they have one): an entry's work follows what it uses, not
        how big the session has grown.  Whatever is left out lives on in its cells."""
        changed_structs = {d.names[0] for d in new_decls if d.kind == "struct"}
        gone = {id(self.by_name[n]) for d in new_decls for n in d.names if n in self.by_name}
        kept = [d for d in self.decls if id(d) not in gone]
        if changed_structs:
            kept = [d for d in kept if not self._stale(d, changed_structs)]
        included = kept if whole else _used(self.by_name, gone, _words(entry))
        items: list[Any] = []
        parts = []
        stubbed: set[str] = set()
        for d in included:
            if not whole and d.stub is not None:
                items.extend(d.stub)
                stubbed.update(d.functions)
            else:
                items.extend(d.items)
            parts.append((d.first, d.first + d.text.count("\n"), d))
        items.extend(base.items)
        return ast.Module(header=None, items=items, file=MODULE, source=base.source), \
            _Layout(first_line, parts), kept, stubbed

    def compile(self, entry: str, echo: bool = True) -> tuple[ir.Module, Any, _Layout, list[Declaration], list[Declaration]]:
        """Compile the session plus `entry`; raises CompileError with diagnostics pointing into the entry.

        Only the entry is parsed: each declaration's tree was kept when its entry was read.  Earlier
        functions are compiled as stubs (a signature and `throw`), so an entry's work does not grow
        with the session — except when it redefines a struct, which earlier code must be checked
        against again (then it is compiled whole).
        """
        from noodle.backends.bytecode.emitter import emit_module
        from noodle.compiler.checker import check
        from noodle.compiler.diagnostics import DiagnosticBag
        from noodle.compiler.parser import parse
        from noodle.ir.passes import run_passes
        from noodle.format.module_file import source_hash

        self.count += 1
        tree = parse(entry, ENTRY_FILE)  # syntax errors point into the entry as typed
        self.line += 1  # the entry gets lines of its own in the session: its trees need no moving later
        first_line = self.line
        base = parse(entry, MODULE, first_line=first_line)
        base.source = "\n" * (self.line - 1) + entry  # what the checker quotes (an assert's text) is the entry's
        origin = f"<repl#{self.count}>"
        starts = _line_starts(entry)
        new_decls = []
        for item, placed in zip(tree.items, base.items):
            d = declaration_of(item, entry, origin, starts)
            if d is not None:
                d.items = [placed]
                d.first = placed.span.line - (len(placed.attributes) if isinstance(placed, ast.FnDecl) else 0)
                d.syntax = item  # type: ignore[attr-defined] - for its stub, made once it is checked
                new_decls.append(d)
        # a redefined struct: earlier code is checked against the new one, so the version is whole
        whole = any(d.kind == "struct" and d.names[0] in self.structs for d in new_decls)
        self.line += entry.count("\n") + 1
        while True:
            full, layout, kept, stubbed = self._version(base, first_line, new_decls, entry, whole)
            layout.entry_text = entry
            diags = DiagnosticBag()
            try:
                module_ir = check(full, MODULE, diags, self.project.resolve_import, self.project.interfaces)
                if not diags.has_errors:
                    break
                error = CompileError(diags.items)
            except CompileError as e:
                error = e
            if whole:
                raise self._relocate(error, layout, entry) from None
            whole = True  # diagnostics with the whole session in view (a did-you-mean among every name)
        last = tree.items[-1] if tree.items else None
        self._keep_entry_code(module_ir, layout.entry_line, last if echo else None)
        run_passes(module_ir, 1)
        module = emit_module(module_ir, source_hash(f"{self.count}\n{entry}"))
        module.source_file = MODULE
        self.stubbed = stubbed
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
        out, moved, sources = [], [], {}
        for d in error.diagnostics:
            s = d.span
            if s.file != MODULE:
                out.append(d)
                continue
            file, line, text = layout.locate(s.line, entry)
            _, end_line, _ = layout.locate(s.end_line, entry)
            span = ast.Span(file, line, s.col, max(end_line, line), s.end_col)
            moved.append(Diagnostic(d.code, d.message, span, d.hint, list(d.notes), d.severity))
            out.append(moved[-1])
            if text is not None:
                sources[file] = text
        add_comment_hints(moved, sources)  # on the entry's own lines, which the module's hints never saw
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
        """Run one entry; Ctrl-C at any moment of it (compiling, linking, running) undoes it."""
        try:
            return self._run(entry)
        except KeyboardInterrupt:
            return Outcome(False, error="KeyboardInterrupt")

    def _run(self, entry: str) -> Outcome:
        from noodle.runtime.errors import NoodleRuntimeError
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
            image = build_image(module, cells=True)
            imported = [self._dependency(name) for name in image.imports]
        except (LoadError, CompileError) as e:
            return Outcome(False, error=e.render() if isinstance(e, CompileError) else f"error: {e}")
        except NoodleRuntimeError as e:
            return Outcome(False, error=self._render_runtime(e, layout, entry))
        new = self.machine.instantiate(image, imported)
        new.module_file = module
        undo, fresh_globals, fresh_functions = self._bind_cells(new)
        try:
            self.machine.call(new, new.functions["__init__"])
        except NoodleRuntimeError as e:
            _restore(undo)
            return Outcome(False, error=self._render_runtime(e, layout, entry))
        except KeyboardInterrupt:
            _restore(undo)
            return Outcome(False, error="KeyboardInterrupt")
        sys.stdout.flush()
        self.global_cells.update(fresh_globals)
        self.function_cells.update(fresh_functions)
        self.machine.modules[MODULE] = new
        self.current = new
        echo = None
        for i, g in enumerate(module.globals):
            if g.name == ECHO:
                echo = nd_repr(new.namespace[f"g{i}"].v)
        notes = self._commit(module_ir, kept, new_decls, layout.entry_text)
        return Outcome(True, echo=echo, notes=notes)

    def _bind_cells(self, new: Any) -> tuple[list[tuple["Cell", Any]], dict[str, tuple[str, "Cell"]],
                                             dict[str, tuple[str, "Cell"]]]:
        """Point the new version's variables and functions at the session's cells (new cells for new
        names and changed types); returns what undoes it and the cells to keep if the entry succeeds."""
        ns = new.namespace
        undo = [(cell, cell.v) for _, cell in self.global_cells.values()]
        fresh_globals: dict[str, tuple[str, Cell]] = {}
        for i, (name, _, ty) in enumerate(new.image.globals):
            known = self.global_cells.get(name)
            if known is None or known[0] != ty or name == ECHO:
                known = fresh_globals[name] = (ty, Cell())
            ns[f"g{i}"] = known[1]
        fresh_functions: dict[str, tuple[str, Cell]] = {}
        self.defined = []
        for f in new.image.functions:
            key = f"f{f.index}"
            known = self.function_cells.get(f.name)
            if f.name in self.stubbed and known is not None and known[0] == f.signature:
                ns[key] = known[1]  # a stub: the function its entry defined stays
                continue
            if known is None or known[0] != f.signature:
                known = fresh_functions[f.name] = (f.signature, Cell())
            else:
                undo.append((known[1], known[1].v))
            known[1].v = ns[key]
            ns[key] = known[1]
            self.defined.append(f.name)
        return undo, fresh_globals, fresh_functions

    def _dependency(self, name: str) -> Any:
        dep = self.machine.modules.get(name)
        if dep is None:
            dep = self.machine.load(self.project.find(name))
        return dep

    def _commit(self, module_ir: ir.Module, kept: list[Declaration], new_decls: list[Declaration],
                entry: str) -> list[str]:
        """The session's declarations after a successful entry: variables rewritten with stand-ins,
        functions and structs given their stubs; each parsed once, here, at its entry's lines."""
        from noodle.compiler.parser import parse

        self.module_ir = module_ir
        for st in module_ir.structs:  # a version holds only the structs its entry used: keep them all
            self.structs[st.name] = st
        holders = Placeholders(MODULE, _StructFields(self.structs))
        globals_ = {g.name: g for g in module_ir.globals if g.name != ECHO}
        returns = {f.name: f.ret for f in module_ir.functions}
        changed_structs = {d.names[0] for d in new_decls if d.kind == "struct"}
        notes = [f"{', '.join(f'`{n}`' for n in d.names)} dropped: its type changed when "
                 f"{', '.join(sorted(changed_structs))} was redefined"
                 for d in (self.decls if changed_structs else ()) if self._stale(d, changed_structs)]
        decls: list[Declaration] = list(kept)
        self.types.update({name: resolve(g.ty) for name, g in globals_.items()})  # a version has the used ones

        def ret_text(name: str) -> str | None:
            t = resolve(returns[name])
            return None if str(t) == "none" else holders.type_text(t)

        starts = _line_starts(entry)
        for d in new_decls:
            if d.kind == "global" and not d.text.lstrip().startswith("const"):
                try:
                    for n in d.names:
                        g = globals_[n]
                        text = holders.declaration(n, g.ty, g.mutable)
                        decls.append(Declaration((n,), "global", text, d.origin,
                                                 items=parse(text, MODULE, first_line=d.first).items, first=d.first,
                                                 uses=_words(text) - {n}))
                    continue
                except (Unwritable, KeyError, CompileError):
                    decls = [x for x in decls if not (set(x.names) & set(d.names))]
            if d.kind in ("fn", "struct"):
                try:
                    text = stub_text(d.syntax, entry, starts, ret_text)  # type: ignore[attr-defined]
                    d.stub = parse(text, MODULE, first_line=d.first).items
                    d.functions = stub_functions(d.syntax)  # type: ignore[attr-defined]
                    d.uses = _words(text) - set(d.names)
                except (Unwritable, KeyError, CompileError):
                    d.stub = None  # compiled whole with every entry (a type the REPL cannot write)
            if d.uses is None:
                d.uses = _words(d.text) - set(d.names)
            del d.syntax  # type: ignore[attr-defined] - the entry's own tree is not needed again
            decls.append(d)
        self.decls = decls
        for d in decls[len(kept):]:  # the entry's own declarations (kept ones stay in front)
            for n in d.names:
                self.by_name[n] = d
        if changed_structs:  # variables dropped with a redefined struct
            live = {id(d) for d in decls}
            self.by_name = {n: d for n, d in self.by_name.items() if id(d) in live}
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


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _words(text: str) -> set[str]:
    """Every name-like word of a text (words in strings and comments too: they only add)."""
    return set(_WORD.findall(text))


def _used(by_name: dict[str, Declaration], gone: set[int], names: set[str]) -> list[Declaration]:
    """The declarations binding `names`, and those their own text names, transitively, in order;
    none of those in `gone` (replaced by the entry)."""
    wanted, chosen = list(names), {}
    while wanted:
        d = by_name.get(wanted.pop())
        if d is not None and id(d) not in chosen and id(d) not in gone:
            chosen[id(d)] = d
            wanted.extend(d.uses or ())
    return sorted(chosen.values(), key=lambda d: d.first)


class _StructFields:
    """The session's structs as :class:`Placeholders` reads them (name -> fields), without copying."""

    def __init__(self, structs: dict[str, ir.StructDef]) -> None:
        self.structs = structs

    def __contains__(self, name: object) -> bool:
        return name in self.structs

    def __getitem__(self, name: str) -> list[tuple[str, Type]]:
        s = self.structs[name]
        return list(zip(s.field_names, s.field_types))


class Cell:
    """Where one session variable or function lives; every version's code reaches it as `.v`."""

    __slots__ = ("v",)

    def __init__(self) -> None:
        self.v: Any = None


def _restore(undo: list[tuple[Cell, Any]]) -> None:
    for cell, value in undo:
        cell.v = value


def _mentions(type_text: str, names: set[str]) -> bool:
    import re

    return any(re.search(rf"\b{MODULE}\.{re.escape(n)}\b|(?<![.\w]){re.escape(n)}\b", type_text) for n in names)


def _display(type_text: str) -> str:
    """A type as the user wrote it: the session's own structs without the module prefix."""
    return type_text.replace(f"{MODULE}.", "")
