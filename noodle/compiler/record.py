"""What the checker saw, for editors: each expression's span and type, each name and what it means.

The checker calls a :class:`Recorder` when one is given (:func:`noodle.compiler.checker.check`,
``recorder=``); without one it records nothing and pays one attribute test per expression.  The
language server (:mod:`noodle.tools.lsp`) uses the record for hover of any expression's type,
find references and rename, and semantic tokens.

A name's *symbol* says what it refers to, the same way in every module of a workspace, so the
occurrences of one symbol can be collected module by module:

* ``("local", file, line, col)``: a local variable or parameter, by where it is declared;
* ``("fn", module, name)``: a function, or a method as ``Struct.method``;
* ``("struct", module, name)``, ``("global", module, name)``;
* ``("field", module, struct, name)``: a struct's field.

Types are kept as the checker's type objects and printed after checking, when inference has
bound every variable it could.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from noodle.compiler.ast import Span
from noodle.ir.types import Type, resolve

Symbol = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One place where a name is written: its first character and length, what it names, and how."""

    file: str
    line: int  # 1-based
    col: int  # 1-based
    length: int
    symbol: Symbol
    kind: str  # "function", "method", "struct", "field", "variable", "parameter", "global", "module"
    definition: bool

    def contains(self, line: int, col: int) -> bool:
        """Is the 1-based position on this name (or right after its last character)?"""
        return line == self.line and self.col <= col <= self.col + self.length


@dataclass(slots=True)
class TypedSpan:
    """An expression (or a declared name) and its type."""

    span: Span
    type: Type


@dataclass(slots=True)
class Recorder:
    """Collects :class:`Occurrence` s and :class:`TypedSpan` s while one module is checked."""

    types: list[TypedSpan] = field(default_factory=list)
    occurrences: list[Occurrence] = field(default_factory=list)

    def typed(self, span: Span, ty: Type) -> None:
        self.types.append(TypedSpan(span, ty))

    def name(self, span: Span, name: str, symbol: Symbol, kind: str, definition: bool = False,
             exact: bool = False) -> None:
        """`name`, written where `span` starts (a span may cover more, e.g. `geo.Point` or `x: int`);
        `exact`: the span is the name as written (an alias: `from geo import dist as d`)."""
        line, col = span.line, span.col
        if exact and span.end_line == span.line:
            self.occurrences.append(Occurrence(span.file, line, col, span.end_col - span.col, symbol, kind, definition))
            return
        if (span.end_line == span.line and span.end_col - span.col > len(name) and not definition
                and symbol[0] in ("struct", "fn")):
            col = span.end_col - len(name)  # a qualified name (`geo.Point`) ends with the name
        self.occurrences.append(Occurrence(span.file, line, col, len(name), symbol, kind, definition))

    def type_at(self, line: int, col: int) -> TypedSpan | None:
        """The innermost recorded expression around a 1-based position."""
        best: TypedSpan | None = None
        for t in self.types:
            s = t.span
            if (s.line, s.col) <= (line, col) <= (s.end_line, s.end_col) and (
                    best is None or _size(s) <= _size(best.span)):
                best = t
        return best

    def occurrence_at(self, line: int, col: int) -> Occurrence | None:
        found = [o for o in self.occurrences if o.contains(line, col)]
        return min(found, key=lambda o: o.length) if found else None


def _size(s: Span) -> tuple[int, int]:
    return (s.end_line - s.line, s.end_col - s.col if s.end_line == s.line else s.end_col)


def type_text(t: Type) -> str:
    """A type as the language writes it, with inference's variables followed."""
    return str(resolve(t))
