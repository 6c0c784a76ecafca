"""Compile-time diagnostics: one type for everything the compiler reports.

A :class:`Diagnostic` has a stable code (documented in docs/language.md and
listed in :data:`CODES`), a message, a span, an optional hint and notes.
Passes collect diagnostics in a :class:`DiagnosticBag`; the driver raises
:class:`CompileError` carrying all of them when a stage ends with errors, so
several independent mistakes are reported in one run.
"""
from __future__ import annotations

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
    "E0004": "integer literal out of the 64-bit range",
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

    def render(self, source_lines: list[str] | None = None) -> str:
        """Plain-text form: `FILE:LINE:COL: error[CODE]: message`, source line, caret, hint."""
        out = [f"{self.span.file}:{self.span.line}:{self.span.col}: {self.severity}[{self.code}]: {self.message}"]
        if source_lines is not None and 1 <= self.span.line <= len(source_lines):
            text = source_lines[self.span.line - 1].rstrip("\n").expandtabs(4)
            width = 1
            if self.span.end_line == self.span.line and self.span.end_col > self.span.col:
                width = self.span.end_col - self.span.col
            gutter = f"{self.span.line:>4} | "
            out.append(gutter + text)
            out.append(" " * (len(gutter) + max(self.span.col - 1, 0)) + "^" * max(width, 1))
        for note in self.notes:
            out.append(f"  note: {note}")
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
        }


class DiagnosticBag:
    """Collects diagnostics of one compilation."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, code: str, message: str, span: Span, hint: str | None = None,
              notes: list[str] | None = None) -> Diagnostic:
        assert code in CODES, code
        d = Diagnostic(code, message, span, hint, notes or [])
        self.items.append(d)
        return d

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def raise_if_errors(self, sources: dict[str, str] | None = None) -> None:
        if self.has_errors:
            raise CompileError(sorted(self.items, key=lambda d: (d.span.file, d.span.line, d.span.col)),
                               sources or {})


def did_you_mean(name: str, candidates: "list[str] | set[str]") -> str | None:
    """A hint naming the closest candidate, or None when nothing is close."""
    import difflib

    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
