"""What the language server reads from a document's text alone: declarations and names.

These work on the parse tree (no checking), so they answer for any text that parses, and the
server falls back on them where the checker's record (:mod:`noodle.tools.lsp_index`) has nothing
to say: a function's or struct's signature and doc comment, the declaration a name refers to
(matched by name).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp

from noodle.compiler import ast
from noodle.compiler.parser import parse
from noodle.errors import CompileError

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


# ------------------------------------------------------------------ hover


@dataclass(frozen=True, slots=True)
class Declaration:
    """A function or struct a hover can describe."""

    name: str
    signature: str
    doc: str
    kind: str  # "function", "method" or "struct"
    span: ast.Span  # the declaration's name
    params: tuple[str, ...] = ()  # as written (`x: float`), a method's `self` left out; a struct's fields


def _doc_above(lines: list[str], line: int) -> str:
    """The `//` comment lines right above 1-based `line` (attributes in between are skipped)."""
    doc: list[str] = []
    i = line - 2
    while i >= 0 and lines[i].strip().startswith("@"):
        i -= 1
    while i >= 0 and lines[i].strip().startswith("//"):
        doc.append(lines[i].strip()[2:].strip())
        i -= 1
    return "\n".join(reversed(doc))


def _text(lines: list[str], start: ast.Span, end_line: int, end_col: int) -> str:
    if start.line == end_line:
        return lines[start.line - 1][start.col - 1:end_col - 1]
    parts = [lines[start.line - 1][start.col - 1:], *lines[start.line:end_line - 1], lines[end_line - 1][:end_col - 1]]
    return " ".join(p.strip() for p in parts)


def declarations(source: str, file: str) -> dict[str, Declaration]:
    """The functions (methods as `Struct.method`) and structs declared in `source`; {} if it does not parse."""
    try:
        module = parse(source, file)
    except CompileError:
        return {}
    lines = source.splitlines()
    found: dict[str, Declaration] = {}

    def function(fn: ast.FnDecl, owner: str | None) -> None:
        signature = _text(lines, fn.span, fn.body.span.line, fn.body.span.col).strip()
        key = f"{owner}.{fn.name}" if owner else fn.name
        params = tuple(_text(lines, p.span, p.span.end_line, p.span.end_col) for p in fn.params
                       if not (owner and p.name == "self" and p.type is None))
        found[key] = Declaration(key, signature, _doc_above(lines, fn.span.line), "method" if owner else "function",
                                 fn.name_span, params)

    for item in module.items:
        if isinstance(item, ast.FnDecl):
            function(item, None)
        elif isinstance(item, ast.StructDecl):
            fields = "\n".join(f"    {_text(lines, f.span, f.span.end_line, f.span.end_col)}" for f in item.fields)
            header = lines[item.span.line - 1]
            col = header.find(item.name, item.span.col - 1 + len("struct")) + 1
            found[item.name] = Declaration(item.name, f"struct {item.name} {{\n{fields}\n}}",
                                           _doc_above(lines, item.span.line), "struct",
                                           ast.Span(file, item.span.line, col, item.span.line, col + len(item.name)),
                                           tuple(_text(lines, f.span, f.span.end_line, f.span.end_col)
                                                 for f in item.fields))
            for m in item.methods:
                function(m, item.name)
    return found


def _imported_sources(source: str, path: Path) -> list[tuple[str, str, Path]]:
    """(alias, text, file) of each workspace module the document imports (those that cannot be read are left out)."""
    try:
        module = parse(source, str(path))
    except CompileError:
        return []
    from noodle.format.cache import module_path

    out = []
    for item in module.items:
        if isinstance(item, (ast.Import, ast.FromImport)) and not getattr(item, "is_py", False):
            file = Path(module_path(path.parent, item.path))
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            alias = getattr(item, "alias", None) or item.path.split(".")[-1]
            out.append((alias, text, file))
    return out


def word_at(source: str, line: int, character: int) -> tuple[str, str | None]:
    """The name under a 0-based position and the name before a `.` right in front of it (if any)."""
    lines = source.splitlines()
    if line >= len(lines):
        return "", None
    text = lines[line]
    for m in _WORD.finditer(text):
        if m.start() <= character <= m.end():
            before = text[:m.start()]
            q = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\.$", before)
            return m.group(), (q.group(1) if q else None)
    return "", None


def lookup(path: Path, source: str, line: int, character: int) -> Declaration | None:
    """The declaration the name at a 0-based position refers to (in the document or a module it imports).

    Names are matched by name (and by module for `alias.name`), not through the checker's scopes:
    a local that shadows a function still shows the function.
    """
    name, qualifier = word_at(source, line, character)
    return lookup_name(path, source, name, qualifier) if name else None


def lookup_name(path: Path, source: str, name: str, qualifier: str | None) -> Declaration | None:
    """The declaration `name` (written `qualifier.name` when qualified) refers to, by name."""
    here = declarations(source, str(path))
    if qualifier is None and name in here:
        return here[name]
    for alias, text, file in _imported_sources(source, path):
        theirs = declarations(text, str(file))
        if name in theirs and (qualifier is None or qualifier == alias):
            return theirs[name]
    methods = [d for key, d in here.items() if key.endswith(f".{name}")]
    return methods[0] if methods else None


def hover_text(path: Path, source: str, line: int, character: int) -> str | None:
    """Markdown for the name at a 0-based position, or None where there is nothing to say."""
    d = lookup(path, source, line, character)
    if d is None:
        return None
    return f"```noodle\n{d.signature}\n```" + (f"\n\n{d.doc}" if d.doc else "")
