"""Hover, go to definition and signature help from the checker's record.

Hover names what is under the cursor the way the checker resolved it: a function's or struct's
signature and doc comment, a field, parameter or variable with its type, and for any other
expression its type (the innermost expression around the cursor).  Definition follows the
name's symbol (a local to its declaration, a method through its receiver's type, a name of
another module to that module).  Signature help finds the call the cursor is in and marks the
parameter being written.  Where the text does not check, the text-only answers of
:mod:`noodle.tools.lsp_source` stand in.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from noodle.compiler.record import Occurrence, Symbol, type_text
from noodle.tools.lsp_index import Analysis, analyse, text_of
from noodle.tools.lsp_source import Declaration, declarations, lookup_name

#: an expression's text is shown with its type up to this length (else the type alone)
_SHOWN_EXPRESSION = 60


def module_file(doc: Analysis, module: str) -> Path:
    from noodle.format.cache import module_path

    return doc.path if module == doc.name else Path(module_path(doc.path.parent, module))


def declaration_of(doc: Analysis, symbol: Symbol, overrides: dict[Path, str]) -> Declaration | None:
    """The declaration (signature, doc comment) of a function, method or struct symbol."""
    if symbol[0] not in ("fn", "struct"):
        return None
    path = module_file(doc, symbol[1])
    text = doc.source if path == doc.path else text_of(path, overrides)
    return None if text is None else declarations(text, str(path)).get(symbol[2])


def definition_of(doc: Analysis, o: Occurrence, overrides: dict[Path, str]) -> Occurrence | None:
    """Where the name `o` refers to is declared (None for a name declared outside the workspace)."""
    if o.definition:
        return o
    if o.symbol[0] == "local":
        _, file, line, col = o.symbol
        return Occurrence(file, int(line), int(col), o.length, o.symbol, o.kind, True)
    if o.symbol[0] == "module":
        return None
    path = module_file(doc, o.symbol[1])
    if path == doc.path:
        target = doc
    else:
        text = text_of(path, overrides)
        if text is None:
            return None
        target = analyse(path, text, overrides, doc.path.parent)
    return next((x for x in target.occurrences(o.symbol) if x.definition), None)


def hover_markdown(doc: Analysis, line: int, character: int, overrides: dict[Path, str]) -> str | None:
    """Markdown for the 0-based position, from the checker's record (None: the record has nothing)."""
    o = doc.occurrence_at(line, character)
    if o is not None:
        d = declaration_of(doc, o.symbol, overrides)
        if d is not None:
            return f"```noodle\n{d.signature}\n```" + (f"\n\n{d.doc}" if d.doc else "")
        name = doc.source.splitlines()[o.line - 1][o.col - 1:o.col - 1 + o.length]
        if o.kind == "module":
            return f"```noodle\nmodule {name}\n```"
        ty = _type_of_name(doc, o)
        owner = f"{o.symbol[2]}." if o.kind == "field" else ""
        return f"```noodle\n({o.kind}) {owner}{name}" + (f": {ty}" if ty else "") + "\n```"
    typed = _type_at(doc, line + 1, character + 1)
    if typed is None:
        return None
    text = _span_text(doc.source, typed[0])
    shown = f"{text}: {typed[1]}" if text and len(text) <= _SHOWN_EXPRESSION and "\n" not in text else typed[1]
    return f"```noodle\n{shown}\n```"


def _type_at(doc: Analysis, line: int, col: int) -> tuple[tuple[int, int, int, int], str] | None:
    best = None
    for t in doc.recorder.types:
        s = t.span
        if s.file != doc.file or not (s.line, s.col) <= (line, col) < (s.end_line, s.end_col):
            continue
        size = (s.end_line - s.line, s.end_col - s.col if s.end_line == s.line else s.end_col)
        if best is None or size <= best[0]:
            best = (size, (s.line, s.col, s.end_line, s.end_col), t.type)
    return None if best is None else (best[1], type_text(best[2]))


def _type_of_name(doc: Analysis, o: Occurrence) -> str | None:
    if o.kind == "field" and o.definition:
        d = declaration_of(doc, ("struct", o.symbol[1], o.symbol[2]), {})
        field = next((p for p in (d.params if d else ()) if p.split(":")[0].strip() == o.symbol[3]), None)
        return field.split(":", 1)[1].split("=")[0].strip() if field and ":" in field else None
    if o.kind == "field":  # the innermost expression around the field's name is `obj.field`
        found = _type_at(doc, o.line, o.col)
        return found[1] if found else None
    found = _type_at(doc, o.line, o.col)
    return found[1] if found else None


def _span_text(source: str, span: tuple[int, int, int, int]) -> str:
    line, col, end_line, end_col = span
    lines = source.splitlines()
    if line != end_line or line > len(lines):
        return ""
    return lines[line - 1][col - 1:end_col - 1]


# ------------------------------------------------------------------ signature help


@dataclass(frozen=True, slots=True)
class CallSite:
    """The call the cursor is in: where its callee's name ends (0-based) and the argument written."""

    line: int
    character: int  # the `(`
    name: str
    qualifier: str | None  # `geo` in `geo.dist(`, `p` in `p.norm(`
    active: int  # 0-based index of the argument the cursor is in


def call_site(source: str, line: int, character: int) -> CallSite | None:
    """The innermost unclosed `(` before the 0-based position that follows a name, and how many
    commas of that call come before the position (strings and comments skipped)."""
    lines = source.split("\n")
    if line >= len(lines):
        return None
    text = "\n".join(lines[:line] + [lines[line][:character]])
    stack: list[list[int]] = []  # [position of the bracket, commas] per open bracket
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i += 1
            while i < len(text) and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif text.startswith("//", i) and (i == 0 or text[i - 1] in " \t\n(,"):
            i = text.find("\n", i)
            if i < 0:
                break
        elif ch in "([{":
            stack.append([i, 0])
        elif ch in ")]}":
            if stack:
                stack.pop()
        elif ch == "," and stack:
            stack[-1][1] += 1
        i += 1
    while stack:
        pos, commas = stack.pop()
        if text[pos] != "(":
            continue
        j = pos
        while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "_"):
            j -= 1
        name = text[j:pos]
        if not name or name[0].isdigit():
            return None
        qualifier = None
        if j > 0 and text[j - 1] == ".":
            k = j - 1
            while k > 0 and (text[k - 1].isalnum() or text[k - 1] == "_"):
                k -= 1
            qualifier = text[k:j - 1] or None
        before = text[:pos]
        row = before.count("\n")
        col = pos - (before.rfind("\n") + 1)
        return CallSite(row, col, name, qualifier, commas)
    return None


def signature_of_call(doc: Analysis, site: CallSite, overrides: dict[Path, str],
                      fallback_source: str | None) -> Declaration | None:
    """The declaration called at `site`: through the checker's record when the text checks, else
    by name in the last text of the document that parsed."""
    o = doc.occurrence_at(site.line, max(site.character - 1, 0))
    if o is not None:
        d = declaration_of(doc, o.symbol, overrides)
        if d is not None:
            return d
    source = fallback_source if fallback_source is not None else doc.source
    return lookup_name(doc.path, source, site.name, site.qualifier)
