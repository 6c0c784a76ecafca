"""A Pygments lexer for Noodle, so docs, rich and the REPL colour Noodle the way editors do.

It is the compiler's own lexer (:func:`noodle.tools.fmt.source_tokens`) dressed in Pygments'
token types: the same keywords, the same `//` rule (a comment or floor division), the same
string and number syntax, with no second regular grammar to drift out of step.  Registered as
the `noodle` lexer through the `pygments.lexers` entry point (`pygmentize -l noodle FILE`).
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from pygments.lexer import Lexer
from pygments.token import (Comment, Error, Keyword, Name, Number, Operator, Punctuation, String,
                            Text, _TokenType)

from noodle.compiler.parse_state import KEYWORDS
from noodle.ir.types import PRIMS
from noodle.tools.fmt import COMMENT_RE, source_tokens

#: type names every program knows (primitive types and the built-in generic ones)
BUILTIN_TYPES = frozenset(PRIMS) | {"List", "Map", "Array", "Error"}
_CONSTANTS = frozenset({"true", "false", "none"})
_DECLARATIONS = frozenset({"fn", "struct", "let", "var", "const", "test"})
_NAMESPACE = frozenset({"module", "import", "from", "as", "py", "version"})
_WORD_OPERATORS = frozenset({"and", "or", "not", "in"})
_PUNCTUATION = frozenset("()[]{},;:.")
_INTERPOLATION = re.compile(r"\\.|\{[^{}]*\}")


def _keyword(kind: str) -> _TokenType:
    if kind in _CONSTANTS:
        return Keyword.Constant
    if kind in _DECLARATIONS:
        return Keyword.Declaration
    if kind in _NAMESPACE:
        return Keyword.Namespace
    if kind in _WORD_OPERATORS:
        return Operator.Word
    return Keyword


class NoodleLexer(Lexer):
    """Noodle source (`.nd`)."""

    name = "Noodle"
    aliases = ["noodle", "nd"]
    filenames = ["*.nd"]
    mimetypes = ["text/x-noodle"]
    url = "https://example.invalid/noodle"

    def get_tokens_unprocessed(self, text: str) -> Iterator[tuple[int, _TokenType, str]]:
        try:
            tokens = [t for t in source_tokens(text) if t.kind != "NL"]
        except Exception:  # a lexer must colour any text; the compiler reports what is wrong
            yield 0, Text, text
            return
        cursor = 0
        prev_kind = ""
        for i, tok in enumerate(tokens):
            if tok.pos < cursor:
                continue
            yield from self._gap(text, cursor, tok.pos)
            value = text[tok.pos:tok.end]
            kind = tok.kind
            if kind == "NAME":
                following = tokens[i + 1].kind if i + 1 < len(tokens) else ""
                if prev_kind == "fn":
                    ttype = Name.Function
                elif prev_kind == "struct":
                    ttype = Name.Class
                elif prev_kind == "@":
                    ttype = Name.Decorator
                elif value in BUILTIN_TYPES:
                    ttype = Keyword.Type
                elif following == "(":
                    ttype = Name.Function
                else:
                    ttype = Name
                yield tok.pos, ttype, value
            elif kind == "STRING":
                yield from self._string(tok.pos, value)
            elif kind == "INT":
                yield tok.pos, Number.Integer, value
            elif kind == "FLOAT":
                yield tok.pos, Number.Float, value
            elif kind in KEYWORDS:
                yield tok.pos, _keyword(kind), value
            elif kind in _PUNCTUATION:
                yield tok.pos, Punctuation, value
            elif kind == "@" and prev_kind not in ("NAME", "INT", "FLOAT", ")", "]"):
                yield tok.pos, Name.Decorator, value
            else:
                yield tok.pos, Operator, value
            prev_kind = kind
            cursor = tok.end
        yield from self._gap(text, cursor, len(text))

    @staticmethod
    def _gap(text: str, start: int, stop: int) -> Iterator[tuple[int, _TokenType, str]]:
        """Whitespace and comments between tokens; anything else there is a character the language rejects."""
        last = start
        for m in COMMENT_RE.finditer(text, start, stop):
            yield from NoodleLexer._blank(text, last, m.start())
            yield m.start(), Comment.Multiline if m.group().startswith("/*") else Comment.Single, m.group()
            last = m.end()
        yield from NoodleLexer._blank(text, last, stop)

    @staticmethod
    def _blank(text: str, start: int, stop: int) -> Iterator[tuple[int, _TokenType, str]]:
        for m in re.finditer(r"\s+|\S+", text[start:stop]):
            yield start + m.start(), Text.Whitespace if m.group().isspace() else Error, m.group()

    @staticmethod
    def _string(pos: int, value: str) -> Iterator[tuple[int, _TokenType, str]]:
        last = 0
        for m in _INTERPOLATION.finditer(value, 1, max(1, len(value) - 1)):
            if m.start() > last:
                yield pos + last, String.Double, value[last:m.start()]
            yield pos + m.start(), String.Escape if m.group().startswith("\\") else String.Interpol, m.group()
            last = m.end()
        yield pos + last, String.Double, value[last:]
