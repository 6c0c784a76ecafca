"""Compile-time diagnostics: one type for everything the compiler reports.

A :class:`Diagnostic` has a stable code (documented in docs/language.md and
listed in :data:`CODES`), a message, a span, an optional hint and notes.
Passes collect diagnostics in a :class:`DiagnosticBag`; the driver raises
:class:`CompileError` carrying all of them when a stage ends with errors, so
several independent mistakes are reported in one run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from noodle.compiler.ast import Span
from noodle.errors import CompileError

__all__ = ["CODES", "Diagnostic", "DiagnosticBag", "CompileError", "did_you_mean"]

#: Every diagnostic code the compiler can emit, with a one-line description.
CODES: dict[str, str] = {
    # lexical and syntax
    "E0001": "syntax error: unexpected token",
    "E0002": "invalid character or unterminated literal",
    "E0003": "invalid escape sequence in a string",
    "E0004": "number literal out of range (a 64-bit int or float)",
    "E0005": "invalid program structure (misplaced declaration, nesting too deep)",
    "E0006": "invalid module header (name or version)",
    # names
    "E0100": "name is not defined",
    "E0101": "assignment to a name that was never declared",
    "E0102": "assignment to a `let` or `const` binding",
    "E0103": "name defined twice in the same scope",
    "E0104": "`const` value is not a compile-time constant",
    # types
    "E0200": "type mismatch",
    "E0201": "wrong number of arguments",
    "E0202": "unknown field or method",
    "E0203": "value is not callable",
    "E0204": "type cannot be inferred; add an annotation",
    "E0205": "operator not defined for these types",
    "E0206": "value cannot be indexed or sliced this way",
    "E0207": "function must return a value on every path",
    "E0208": "unknown type",
    "E0209": "bad named or missing argument",
    # control flow
    "E0300": "`break` or `continue` outside a loop",
    "E0301": "`return` outside a function",
    # modules
    "E0400": "module not found",
    "E0401": "module has no such exported name",
    "E0402": "import cycle",
    "E0403": "feature not available in this build",
    "E0404": "`parallel` needs a top-level function",
    # warnings (noodle/compiler/lint.py): the program compiles and runs; each can be allowed or denied
    "W0101": "variable is never read",
    "W0102": "parameter is never read",
    "W0103": "import is never used",
    "W0104": "a declaration shadows an outer variable",
    "W0105": "`var` is never reassigned (could be `let`)",
    "W0201": "unreachable code",
    "W0202": "the value of an expression statement is dropped",
    "W0203": "a line starting with an operator is a statement of its own, not a continuation",
}


@dataclass(slots=True)
class Diagnostic:
    """One compiler message, pointing at a span of the source."""

    code: str
    message: str
    span: Span
    hint: str | None = None
    notes: list[str] = field(default_factory=list)
    severity: str = "error"
    #: secondary places, each with what it is (`(span, "defined here")`), shown as notes with their line
    related: list[tuple[Span, str]] = field(default_factory=list)

    def render(self, source_lines: list[str] | None = None, sources: "dict[str, str] | None" = None) -> str:
        """Plain-text form: `FILE:LINE:COL: error[CODE]: message`, source line, caret, notes (with
        their own line and caret when they point somewhere), hint."""
        out = [f"{self.span.file}:{self.span.line}:{self.span.col}: {self.severity}[{self.code}]: {self.message}"]
        out += source_excerpt(self.span, source_lines)
        for note in self.notes:
            out.append(f"  note: {note}")
        for span, text in self.related:
            out.append(f"  note: {text} ({span.file}:{span.line}:{span.col})")
            src = (sources or {}).get(span.file)
            if src is None and span.file == self.span.file:
                lines = source_lines
            else:
                lines = src.splitlines() if src is not None else None
            out += source_excerpt(span, lines)
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "col": self.span.col,
            "end_line": self.span.end_line,
            "end_col": self.span.end_col,
            "hint": self.hint,
            "notes": list(self.notes),
            "related": [{"file": s.file, "line": s.line, "col": s.col, "end_line": s.end_line,
                         "end_col": s.end_col, "message": text} for s, text in self.related],
        }


class DiagnosticBag:
    """Collects diagnostics of one compilation."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, code: str, message: str, span: Span, hint: str | None = None,
              notes: list[str] | None = None, related: "list[tuple[Span, str]] | None" = None) -> Diagnostic:
        assert code in CODES, code
        d = Diagnostic(code, message, span, hint, notes or [], "error", related or [])
        self.items.append(d)
        return d

    def warning(self, code: str, message: str, span: Span, hint: str | None = None,
                related: "list[tuple[Span, str]] | None" = None) -> Diagnostic:
        assert code in CODES, code
        d = Diagnostic(code, message, span, hint, [], "warning", related or [])
        self.items.append(d)
        return d

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def raise_if_errors(self, sources: dict[str, str] | None = None) -> None:
        if self.has_errors:
            errors = [d for d in self.items if d.severity == "error"]
            add_comment_hints(errors, sources or {})
            raise CompileError(sorted(errors, key=lambda d: (d.span.file, d.span.line, d.span.col)),
                               sources or {})


#: `//` the lexer reads as floor division: right after the end of a value, with at most one space or
#: tab between (noodle.compiler.lexer), then a name: `let half = 6 // half of twelve`
_DIVISION_THEN_NAME = re.compile(r"""[\w)\]"'][ \t]?//[ \t]*([A-Za-z_]\w*)""")


def add_comment_hints(diagnostics: list[Diagnostic], sources: dict[str, str]) -> None:
    """Give each diagnostic that has no hint the one :func:`comment_hint` finds on its line of
    `sources` (each source split into lines once)."""
    lines_of: dict[str, list[str]] = {}
    for d in diagnostics:
        text = sources.get(d.span.file)
        if d.hint is None and text:
            lines = lines_of.get(d.span.file)
            if lines is None:
                lines = lines_of[d.span.file] = text.splitlines()
            if 0 < d.span.line <= len(lines):
                d.hint = comment_hint(lines[d.span.line - 1], d.span.col)


def comment_hint(line: str, col: int) -> str | None:
    """For an error at column `col` (1-based) of `line`: when a `//` before it was read as floor
    division but reads like a comment (the error is at the name after it, or further on), say so."""
    for m in _DIVISION_THEN_NAME.finditer(line):
        if m.start(1) < col:
            return ("`//` right after a value, with at most one space between, is floor division; "
                    "to start a comment there, put two spaces before it")
    return None


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: East Asian wide and full-width characters take two,
    combining marks none (tabs are expanded before this is asked)."""
    import unicodedata

    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def source_excerpt(span: Span, source_lines: list[str] | None) -> list[str]:
    """The span's source line with a caret under it: aligned under tabs (expanded to 4 columns)
    and wide characters; a span reaching past its line is underlined to the line's end."""
    if source_lines is None or not 1 <= span.line <= len(source_lines):
        return []
    raw = source_lines[span.line - 1].rstrip("\n")
    col = max(span.col - 1, 0)
    end = span.end_col - 1 if span.end_line == span.line and span.end_col > span.col else \
        (len(raw) if span.end_line > span.line else col + 1)
    end = max(end, col + 1)
    text = raw.expandtabs(4)
    before = raw[:col].expandtabs(4)
    under = raw[:end].expandtabs(4)
    lead = display_width(before)
    width = max(display_width(under) - lead, 1)
    gutter = f"{span.line:>4} | "
    return [gutter + text, " " * (len(gutter) + lead) + "^" * width]


def did_you_mean(name: str, candidates: "list[str] | set[str]") -> str | None:
    """A hint naming the closest candidate, or None when nothing is close."""
    import difflib

    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
