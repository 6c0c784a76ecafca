"""What one parse shares: the parser's limits and keywords, and the per-parse context.

The lexer (:mod:`noodle.compiler.lexer`), the LALR driver (:mod:`noodle.compiler.lalr`) and the
AST builder (:mod:`noodle.compiler.ast_builder`) all read the current parse's context (its source,
file and diagnostics); it lives here, below the three.
"""
from __future__ import annotations

import threading
from typing import Any

from noodle.compiler.ast import Span
from noodle.compiler.diagnostics import DiagnosticBag

KEYWORDS = frozenset(
    "module version import from py as const let var fn return if else while for in "
    "break continue struct true false none and or not assert try catch throw test".split()
)

#: Keywords that are names wherever the grammar cannot take the keyword.
CONTEXTUAL_KEYWORDS = frozenset({"py", "version"})

#: At most this many diagnostics are reported by one parse.
MAX_ERRORS = 20
#: Deepest nesting accepted, both of brackets in the source and of the AST
#: (later passes walk the tree recursively; this keeps them far from Python's
#: recursion limit).
MAX_NESTING = 200
#: Deepest nesting of string interpolation (`"{f("{x}")}"`).
MAX_INTERP_DEPTH = 16

INT_MAX = 2**63 - 1
# The LALR stack grows by a few entries per nesting level (unary chains,
# right-associative `**`, blocks); past this the program is nested too deeply.
MAX_STACK = 5 * MAX_NESTING


# =========================================================================
# Per-parse context
# =========================================================================

class ParseContext:
    """State shared by the lexer, the driver and the AST builder of one parse."""

    __slots__ = ("file", "src", "bag", "payloads", "overflow", "interp_depth", "aborted")

    def __init__(self, file: str, src: str) -> None:
        self.file = file
        self.src = src
        self.bag = DiagnosticBag()
        self.payloads: dict[int, Any] = {}  # STRING token start offset -> str | list parts
        self.overflow: dict[tuple[int, int], tuple[Span, str]] = {}  # pending E0004
        self.interp_depth = 0
        self.aborted = False

    def span(self, line: int, col: int, end_line: int, end_col: int) -> Span:
        return Span(self.file, line, col, end_line, end_col)

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        if len(self.bag.items) >= MAX_ERRORS:
            self.aborted = True
            return
        self.bag.error(code, message, span, hint)
        if len(self.bag.items) >= MAX_ERRORS:
            self.aborted = True


CURRENT = threading.local()


class ParseAborted(Exception):
    """Stop parsing (too many errors, or nesting too deep)."""


