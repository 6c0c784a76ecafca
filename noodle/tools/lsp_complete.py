"""Completion for the language server: what may be written at the cursor.

* After `expr.`: the members of what `expr` is: an imported workspace module's declarations, a
  standard module's functions and constants (:data:`noodle.stdlib.signatures.MODULES`), a struct's
  fields and methods, the built-in methods of `str`, `List` and `Map` (the checker's own table,
  :data:`noodle.stdlib.signatures.METHODS`) and an Array's (:data:`noodle.compiler.checker.arrays.ARRAY_MEMBERS`).
  The receiver's type is the one the checker records for it.
* Elsewhere: the locals and parameters in scope at the cursor, keywords, the module's
  declarations and its imports.

A document being typed rarely parses at the cursor (`p.` is not an expression).  The text is
repaired where the cursor is: the line becomes the receiver alone (`p`), or, for names, the line
is emptied; positions stay where they were.  Where the repaired text still does not parse, the
document's last text that parsed answers (as hover and signature help do).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types as lsp

from noodle.compiler import ast
from noodle.compiler.parser import parse
from noodle.errors import CompileError
from noodle.ir.types import ERROR, STR, ArrayT, ListT, MapT, StructT, Type, resolve
from noodle.tools.lsp_index import Analysis, analyse, text_of
from noodle.tools.lsp_source import Declaration, declarations

_MEMBER = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)?$")
_KINDS = {"function": lsp.CompletionItemKind.Function, "method": lsp.CompletionItemKind.Method,
          "struct": lsp.CompletionItemKind.Struct}


@dataclass(frozen=True, slots=True)
class Request:
    """One completion request: the document, its last text that parsed, the open documents."""

    path: Path
    source: str
    line: int  # 0-based
    character: int  # 0-based
    overrides: dict[Path, str]
    last_parsed: str | None = None


def complete(r: Request) -> list[lsp.CompletionItem]:
    """The completion items at the request's position."""
    lines = r.source.split("\n")
    text = lines[r.line][:r.character] if r.line < len(lines) else ""
    dot = _MEMBER.search(text)
    if dot is not None:
        start = receiver_start(text, dot.start())
        return [] if start is None else _members(r, lines, start, dot.start())
    return _names(r, lines)


# ------------------------------------------------------------------ after a dot


def receiver_start(text: str, end: int) -> int | None:
    """Where the expression ending at `end` (a name, `a.b`, `f(x)`, `xs[i]`, chained) starts in `text`."""
    i = end
    while True:
        if i > 0 and text[i - 1] in ")]":
            depth, j = 0, i - 1
            while j >= 0:
                depth += text[j] in ")]"
                depth -= text[j] in "(["
                if depth == 0:
                    break
                j -= 1
            if j < 0:
                return None
            i = j
            continue
        j = i
        while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "_"):
            j -= 1
        if j == i:
            break
        i = j
        if i > 0 and text[i - 1] == ".":
            i -= 1
            continue
        break
    return i if i < end and (text[i].isalpha() or text[i] == "_") else None


def _members(r: Request, lines: list[str], start: int, end: int) -> list[lsp.CompletionItem]:
    receiver = lines[r.line][start:end]
    repaired = "\n".join([*lines[:r.line], " " * start + receiver, *lines[r.line + 1:]])
    usable = _parses(repaired, r.path)
    module_source = repaired if usable else r.last_parsed
    if module_source is not None and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", receiver):
        found = _module_members(r, module_source, receiver)
        if found is not None:
            return found
    ty: Type | None = None
    if usable:
        a = analyse(r.path, repaired, r.overrides)
        ty = _recorded_type(a, r.line + 1, start + 1, end + 1)
    if ty is None and r.last_parsed is not None and receiver.isidentifier():
        a = analyse(r.path, r.last_parsed, r.overrides)  # the name as the last parsable text declared it
        local = next((v for v in reversed(_locals_in_scope(a, r.line, r.character)) if v.name == receiver), None)
        ty = local.type if local else None
    return [] if ty is None else _members_of_type(a, resolve(ty), r.overrides)


def _parses(source: str, path: Path) -> bool:
    try:
        parse(source, str(path))
    except (CompileError, RecursionError):
        return False
    return True


def _module_members(r: Request, source: str, alias: str) -> list[lsp.CompletionItem] | None:
    """The exports of the module imported as `alias` (None when `alias` names no import)."""
    from noodle.format.cache import module_path
    from noodle.stdlib import signatures as sigs

    for item in parse(source, str(r.path)).items:
        if not isinstance(item, ast.Import) or getattr(item, "is_py", False):
            continue
        if (getattr(item, "alias", None) or item.path.split(".")[-1]) != alias:
            continue
        if item.path in sigs.MODULES:
            items = [lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Function,
                                        detail=" | ".join(str(o.sig) for o in ovs))
                     for name, ovs in sigs.MODULES[item.path].items()]
            items += [lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Constant, detail=f"{value!r}")
                      for name, value in sigs.MODULE_CONSTANTS.get(item.path, {}).items()]
            return items
        file = Path(module_path(r.path.parent, item.path))
        text = text_of(file, r.overrides)
        if text is None:
            return []
        return [_declaration_item(k, d) for k, d in declarations(text, str(file)).items() if "." not in k]
    return None


def _recorded_type(a: Analysis, line: int, col: int, end_col: int) -> Type | None:
    """The type the checker recorded for the expression spanning 1-based `line`, `col` to `end_col`."""
    exact = [t for t in a.recorder.types if t.span.file == a.file and t.span.line == line == t.span.end_line
             and t.span.col == col and t.span.end_col == end_col]
    return exact[-1].type if exact else None


def _members_of_type(a: Analysis, ty: Type, overrides: dict[Path, str]) -> list[lsp.CompletionItem]:
    from noodle.compiler.checker.arrays import ARRAY_MEMBERS
    from noodle.stdlib import signatures as sigs

    if isinstance(ty, ArrayT):
        return [lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Field if "(" not in written
                                   else lsp.CompletionItemKind.Method, detail=written)
                for name, written in ARRAY_MEMBERS.items()]
    kind = "List" if isinstance(ty, ListT) else "Map" if isinstance(ty, MapT) else "str" if ty == STR else None
    if kind is not None:
        return [lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Method,
                                   detail=" | ".join(str(o.sig) for o in sigs.METHODS[(k, name)]))
                for (k, name) in sigs.METHODS if k == kind]
    if isinstance(ty, StructT) and ty != ERROR:
        return _struct_members(a, ty, overrides)
    return []


def _struct_members(a: Analysis, ty: StructT, overrides: dict[Path, str]) -> list[lsp.CompletionItem]:
    from noodle.tools.lsp_hover import module_file

    path = module_file(a, ty.module)
    text = a.source if path == a.path else text_of(path, overrides)
    if text is None:
        return []
    found = declarations(text, str(path))
    struct = found.get(ty.name)
    if struct is None:
        return []
    items = [lsp.CompletionItem(f.split(":")[0].strip(), kind=lsp.CompletionItemKind.Field, detail=f)
             for f in struct.params]
    items += [_declaration_item(k.rpartition(".")[2], d) for k, d in found.items()
              if k.startswith(f"{ty.name}.")]
    return items


def _declaration_item(label: str, d: Declaration) -> lsp.CompletionItem:
    return lsp.CompletionItem(label, kind=_KINDS[d.kind], detail=d.signature.splitlines()[0],
                              documentation=d.doc or None)


# ------------------------------------------------------------------ names


@dataclass(frozen=True, slots=True)
class Local:
    name: str
    kind: str  # "variable" or "parameter"
    type: Type | None


def _names(r: Request, lines: list[str]) -> list[lsp.CompletionItem]:
    from noodle.compiler.parse_state import KEYWORDS

    source = r.source
    if not _parses(source, r.path):
        blanked = "\n".join([*lines[:r.line], "", *lines[r.line + 1:]])
        source = blanked if _parses(blanked, r.path) else r.last_parsed
    items = [lsp.CompletionItem(k, kind=lsp.CompletionItemKind.Keyword) for k in sorted(KEYWORDS)]
    if source is None:
        return items
    a = analyse(r.path, source, r.overrides)
    seen: set[str] = set()
    for v in reversed(_locals_in_scope(a, r.line, r.character)):  # the innermost declaration of a name wins
        if v.name not in seen:
            seen.add(v.name)
            items.append(lsp.CompletionItem(v.name, kind=lsp.CompletionItemKind.Variable,
                                            detail=None if v.type is None else f"{v.name}: {resolve(v.type)}"))
    items += [_declaration_item(k, d) for k, d in declarations(source, str(r.path)).items() if "." not in k]
    for item in parse(source, str(r.path)).items:
        if isinstance(item, ast.Import) and not getattr(item, "is_py", False):
            alias = getattr(item, "alias", None) or item.path.split(".")[-1]
            items.append(lsp.CompletionItem(alias, kind=lsp.CompletionItemKind.Module, detail=f"import {item.path}"))
        elif isinstance(item, ast.FromImport):
            items += [lsp.CompletionItem(alias or name, kind=lsp.CompletionItemKind.Reference,
                                         detail=f"from {item.path} import {name}") for name, alias in item.names]
    return items


def _locals_in_scope(a: Analysis, line: int, character: int) -> list[Local]:
    """The locals and parameters declared before a 0-based position and visible there, in order.

    A local is visible where its scope is: the innermost block, function, lambda or `for` around
    its declaration (a parameter's is its function, a loop variable's its loop)."""
    try:
        module = parse(a.source, a.file)
    except (CompileError, RecursionError):
        return []
    scopes = _scope_spans(module)
    here = (line + 1, character + 1)
    found: list[Local] = []
    for o in a.recorder.occurrences:
        if not (o.definition and o.symbol[0] == "local" and o.file == a.file) or (o.line, o.col) >= here:
            continue
        around = [s for s in scopes if _within(s, (o.line, o.col))]
        scope = min(around, key=_extent, default=None)
        if scope is not None and not _within(scope, here):
            continue
        ty = next((t.type for t in a.recorder.types if t.span.file == a.file and t.span.line == o.line
                   and t.span.col == o.col), None)
        name = a.source.split("\n")[o.line - 1][o.col - 1:o.col - 1 + o.length]
        found.append(Local(name, o.kind, ty))
    return found  # in the checker's order: the source's


def _scope_spans(node: object) -> list[ast.Span]:
    out: list[ast.Span] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list | tuple):
            stack.extend(n)
            continue
        if not dataclasses.is_dataclass(n) or isinstance(n, ast.Span):
            continue
        if isinstance(n, (ast.Block, ast.FnDecl, ast.Lambda, ast.For)):
            out.append(n.span)
        stack.extend(getattr(n, f.name) for f in dataclasses.fields(n))
    return out


def _within(s: ast.Span, pos: tuple[int, int]) -> bool:
    return (s.line, s.col) <= pos <= (s.end_line, s.end_col)


def _extent(s: ast.Span) -> tuple[int, int]:
    return (s.end_line - s.line, s.end_col - s.col if s.end_line == s.line else s.end_col)
