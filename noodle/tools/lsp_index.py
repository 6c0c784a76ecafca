"""The language server's knowledge of a workspace: each module checked with a recorder.

:func:`analyse` compiles one module from the editor's text (other open documents standing for
their files) with a :class:`noodle.compiler.record.Recorder`, and keeps what the checker saw:
each expression's type, each name's symbol, the diagnostics and, when the module compiled, its
IR for `--explain`.  On top of it: the occurrences of a symbol across the workspace's modules
(find references), renaming them (refused, with the reason, where the new name would clash or
change what another name means), and the workspace's declarations (workspace symbols).

The workspace of a document is its folder (the source root `noodle run` uses) and the folders
below it: every `.nd` file there is a module, named by its path (`pkg/geo.nd` is `pkg.geo`).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from noodle.compiler.diagnostics import Diagnostic
from noodle.compiler.parse_state import KEYWORDS
from noodle.compiler.record import Occurrence, Recorder, Symbol
from noodle.errors import CompileError

#: at most this many modules make a workspace (a folder of thousands is not one program)
WORKSPACE_LIMIT = 400
#: analyses kept (documents and the modules references visit)
_CACHE_SIZE = 64
_SKIPPED_DIRS = frozenset({"__noodlecache__", "node_modules", "__pycache__"})


@dataclass(slots=True)
class Analysis:
    """One module as the checker saw it."""

    path: Path
    name: str  # its module name
    source: str
    recorder: Recorder
    diagnostics: list[Diagnostic]  # its own errors and warnings
    compiled: object | None  # noodle.build.driver.Compiled when it compiled without errors
    parsed: bool = False  # did its text parse (whether or not it checked)
    explained: list | None = None  # its `--explain` sentences, once asked for (noodle.tools.lsp_explain)

    @property
    def file(self) -> str:
        return str(self.path)

    def occurrence_at(self, line: int, character: int) -> Occurrence | None:
        """The name at a 0-based position of this module's text."""
        found = [o for o in self.recorder.occurrences if o.file == self.file and o.contains(line + 1, character + 1)]
        return min(found, key=lambda o: (not o.definition, o.length)) if found else None

    def occurrences(self, symbol: Symbol) -> list[Occurrence]:
        return [o for o in self.recorder.occurrences if o.symbol == symbol and o.file == self.file]


def module_name(root: Path, path: Path) -> str:
    """The name module `path` is imported by from source root `root` (`pkg/geo.nd` → `pkg.geo`)."""
    from noodle.format.cache import identifier

    try:
        parts = path.resolve().relative_to(root.resolve()).with_suffix("").parts
    except ValueError:
        parts = (path.stem,)
    return ".".join(identifier(p) for p in parts) if len(parts) > 1 else identifier(path.stem)


def workspace_modules(root: Path) -> list[Path]:
    """The `.nd` files of the workspace rooted at `root` (hidden and cache folders left out)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        found += [Path(folder) / f for f in sorted(files) if f.endswith(".nd")]
        if len(found) >= WORKSPACE_LIMIT:
            break
    return found[:WORKSPACE_LIMIT]


_analyses: "OrderedDict[tuple, Analysis]" = OrderedDict()


def analyse(path: Path, source: str, overrides: dict[Path, str] | None = None, root: Path | None = None) -> Analysis:
    """Check module `path` whose text is `source`; imports come from `overrides` (open documents,
    by resolved path) or the disk.  Results are cached by every text they depend on."""
    from noodle.build.driver import CompileOptions, Project

    overrides = overrides or {}
    root = root or path.parent
    key = (str(path), source, str(root), tuple(sorted((str(p), hash(t)) for p, t in overrides.items())))
    if key in _analyses:
        _analyses.move_to_end(key)
        return _analyses[key]
    project = Project(root, CompileOptions(1, False))
    project.overrides = {p: t for p, t in overrides.items() if p != path.resolve()}
    name = module_name(root, path)
    recorder = project.recorders[name] = Recorder()
    found: list[Diagnostic] = []
    compiled = None
    parsed = True
    try:
        compiled = project.compile_module(name, path, str(path), source=source)
    except CompileError as e:
        found += e.diagnostics
        parsed = bool(recorder.occurrences) or not _parse_failed(source, str(path))
    except RecursionError:
        parsed = False  # the parser reports deep nesting itself; a checker recursion is not the editor's business
    diagnostics = [d for d in project.warnings + found if d.span.file == str(path)]
    result = Analysis(path, name, source, recorder, diagnostics, compiled, parsed)
    _analyses[key] = result
    if len(_analyses) > _CACHE_SIZE:
        _analyses.popitem(last=False)
    return result


def _parse_failed(source: str, file: str) -> bool:
    from noodle.compiler.parser import parse

    try:
        parse(source, file)
    except CompileError:
        return True
    except RecursionError:
        return True
    return False


def text_of(path: Path, overrides: dict[Path, str]) -> str | None:
    """A module's text: the editor's, if it is open, else the file's (None if unreadable)."""
    if path.resolve() in overrides:
        return overrides[path.resolve()]
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _short_name(symbol: Symbol) -> str:
    """The name a symbol is written as (a method's without its struct)."""
    if symbol[0] == "local":
        raise ValueError("a local's symbol does not hold its name")
    return symbol[-1].rpartition(".")[2]


def references(doc: Analysis, symbol: Symbol, overrides: dict[Path, str]) -> list[Occurrence]:
    """Every place `symbol` is written: in `doc` only for a local or a module alias, else in every
    module of the workspace whose text mentions its name."""
    found = {(o.file, o.line, o.col): o for o in doc.occurrences(symbol)}
    if symbol[0] not in ("local", "module"):
        name = _short_name(symbol)
        root = doc.path.parent
        for path in workspace_modules(root):
            if path.resolve() == doc.path.resolve():
                continue
            text = text_of(path, overrides)
            if text is None or name not in text:
                continue
            other = analyse(path, text, overrides, root)
            found.update({(o.file, o.line, o.col): o for o in other.occurrences(symbol)})
    return sorted(found.values(), key=lambda o: (o.file, o.line, o.col))


class RenameRefused(Exception):
    """A rename that would not be a rename: the message says why."""


def renamed_symbol(symbol: Symbol, new: str) -> Symbol:
    """What `symbol` is called after its name becomes `new` (a local keeps its symbol: its place)."""
    if symbol[0] in ("local", "module"):
        return symbol
    owner, dot, _ = symbol[-1].rpartition(".")
    return symbol[:-1] + (f"{owner}{dot}{new}",)


def rename_edits(doc: Analysis, line: int, character: int, new: str,
                 overrides: dict[Path, str]) -> dict[Path, list[Occurrence]]:
    """The occurrences to rewrite, by file, to rename the name at a 0-based position to `new`.

    Raises :class:`RenameRefused` when there is nothing to rename there, when `new` is not a
    name, or when the program after the rename would not mean what it meant: the renamed texts
    are checked again, and they must compile without new errors and the new name must be written
    at exactly the renamed places (so a clash, or a local that would capture or be captured by
    another name, is refused).
    """
    if not new.isidentifier() or not new.isascii() or new in KEYWORDS:
        raise RenameRefused(f"`{new}` is not a name (a letter or `_`, then letters, digits or `_`; not a keyword)")
    here = doc.occurrence_at(line, character)
    if here is None:
        raise RenameRefused("there is no name of this program here to rename")
    if here.symbol[0] == "module":
        raise RenameRefused("a module's name is its file's name: rename the file (and its imports)")
    old = doc.source.splitlines()[here.line - 1][here.col - 1:here.col - 1 + here.length]
    if old == new:
        return {}
    places = references(doc, here.symbol, overrides)
    by_file: dict[Path, list[Occurrence]] = {}
    texts: dict[str, list[str]] = {}
    for o in places:
        if o.file not in texts:
            text = doc.source if o.file == doc.file else text_of(Path(o.file), overrides) or ""
            texts[o.file] = text.split("\n")
        row = texts[o.file][o.line - 1] if o.line <= len(texts[o.file]) else ""
        by_file.setdefault(Path(o.file), [])  # a file that only uses an alias is checked again too
        if row[o.col - 1:o.col - 1 + o.length] == old:  # (a use through an alias keeps its alias)
            by_file[Path(o.file)].append(o)
    clash = _declared_clash(doc, here.symbol, new, overrides)
    if clash:
        raise RenameRefused(clash)
    _check_renamed(doc, by_file, here.symbol, new, overrides)
    return {path: places for path, places in by_file.items() if places}


def _declared_clash(doc: Analysis, symbol: Symbol, new: str, overrides: dict[Path, str]) -> str | None:
    """Why `new` is taken where `symbol` is declared (None when it is free there)."""
    kind = symbol[0]
    if kind == "local":
        return None  # a local's clashes are found by checking the renamed text (scopes decide)
    module = symbol[1]
    owner = symbol[2].rpartition(".")[0] if kind == "fn" else symbol[2] if kind == "field" else ""
    analysis = doc if module == doc.name else _module_analysis(doc, module, overrides)
    if analysis is None:
        return None
    for o in analysis.recorder.occurrences:
        if not o.definition or o.file != analysis.file or o.symbol[0] == "local":
            continue
        s = o.symbol
        taken_top = not owner and s[0] in ("fn", "struct", "global") and s[2] == new
        taken_member = owner and ((s[0] == "field" and s[2] == owner and s[3] == new)
                                  or (s[0] == "fn" and s[2] == f"{owner}.{new}"))
        if taken_top or taken_member:
            where = f"{Path(o.file).name}:{o.line}:{o.col}"
            what = f"`{owner}` already has a {'field' if s[0] == 'field' else 'method'}" if owner else \
                f"module `{module}` already declares a {o.kind}"
            return f"cannot rename to `{new}`: {what} `{new}` ({where})"
    return None


def _module_analysis(doc: Analysis, module: str, overrides: dict[Path, str]) -> Analysis | None:
    from noodle.format.cache import module_path

    path = Path(module_path(doc.path.parent, module))
    text = text_of(path, overrides)
    return None if text is None else analyse(path, text, overrides, doc.path.parent)


def _check_renamed(doc: Analysis, by_file: dict[Path, list[Occurrence]], symbol: Symbol, new: str,
                   overrides: dict[Path, str]) -> None:
    """Check the workspace with the rename applied (see :func:`rename_edits`)."""
    texts = {path: apply_rename(text_of(path, overrides) or "", places, new) for path, places in by_file.items()}
    after = dict(overrides)
    after.update({p.resolve(): t for p, t in texts.items()})
    target = renamed_symbol(symbol, new)
    before_errors = {p: sum(d.severity == "error" for d in _analysis_of(doc, p, overrides).diagnostics) for p in texts}
    for path, text in texts.items():
        result = analyse(path, text, after, doc.path.parent)
        errors = [d for d in result.diagnostics if d.severity == "error"]
        if len(errors) > before_errors[path]:
            d = errors[0]
            raise RenameRefused(f"renaming to `{new}` would break {path.name}:{d.span.line}:{d.span.col}: {d.message}")
        expected = set(_moved(by_file[path], new))
        now = {(o.line, o.col) for o in result.occurrences(target) if _written(text, o) == new}
        if now != expected:
            extra = sorted(now - expected)
            if extra:
                line, col = extra[0]
                raise RenameRefused(f"cannot rename to `{new}`: {path.name}:{line}:{col} would then mean the renamed "
                                    "name instead of what it means now")
            line, col = sorted(expected - now)[0]
            raise RenameRefused(f"cannot rename to `{new}`: {path.name}:{line}:{col} would then mean another `{new}`")


def _analysis_of(doc: Analysis, path: Path, overrides: dict[Path, str]) -> Analysis:
    if path.resolve() == doc.path.resolve():
        return doc
    return analyse(path, text_of(path, overrides) or "", overrides, doc.path.parent)


def _written(text: str, o: Occurrence) -> str:
    lines = text.split("\n")
    return lines[o.line - 1][o.col - 1:o.col - 1 + o.length] if o.line <= len(lines) else ""


def _moved(places: list[Occurrence], new: str) -> list[tuple[int, int]]:
    """Where each of `places` starts once all of them are rewritten as `new`."""
    out = []
    for o in places:
        before = sum(1 for p in places if p.line == o.line and p.col < o.col)
        out.append((o.line, o.col + before * (len(new) - o.length)))
    return out


def apply_rename(text: str, places: list[Occurrence], new: str) -> str:
    """`text` with each of `places` (on its lines) rewritten as `new`."""
    lines = text.split("\n")
    for o in sorted(places, key=lambda o: (o.line, o.col), reverse=True):
        row = lines[o.line - 1]
        lines[o.line - 1] = row[:o.col - 1] + new + row[o.col - 1 + o.length:]
    return "\n".join(lines)
