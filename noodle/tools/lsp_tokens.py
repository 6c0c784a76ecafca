"""Semantic tokens: the compiler's own tokens, and what the checker says each name is.

Keywords, numbers, strings, comments and operators come from the language's lexer (the same one
the formatter and the Pygments lexer use, so a `//` is a comment exactly where the compiler says
so); each name is classified by the checker's record (:mod:`noodle.compiler.record`): function,
method, struct, field, parameter, variable, module.  Where the checker has nothing to say (a
text that does not check) a name gets what its neighbours suggest (after `fn`: a function).
"""
from __future__ import annotations

from typing import Callable

from noodle.compiler.parse_state import KEYWORDS
from noodle.compiler.record import Occurrence
from noodle.tools.fmt import COMMENT_RE, FormatError, source_tokens
from noodle.tools.highlight import BUILTIN_TYPES

#: the legend: token types by index (LSP's standard names)
TOKEN_TYPES = ["namespace", "struct", "function", "method", "property", "variable", "parameter", "keyword",
               "string", "number", "comment", "operator", "type"]
#: modifiers, as bits
TOKEN_MODIFIERS = ["declaration", "readonly", "defaultLibrary"]

_KIND_TYPE = {"module": "namespace", "struct": "struct", "function": "function", "method": "method",
              "field": "property", "variable": "variable", "parameter": "parameter", "global": "variable"}
_OPERATOR_CHARS = set("+-*/%<>=!&|^~@")
_CONSTANTS = {"true", "false", "none"}


def semantic_tokens(source: str, occurrences: list[Occurrence], file: str,
                    units: Callable[[str], int] | None = None) -> list[int]:
    """The LSP encoding (relative line, relative start, length, type, modifiers; five integers per
    token, positions in the client's units: `units(text)` counts them, UTF-16 by default) of
    `source`'s tokens."""
    try:
        tokens = [t for t in source_tokens(source, file) if t.kind != "NL"]
    except (FormatError, Exception):  # a text that does not lex is coloured by the editor's grammar
        return []
    names = {(o.line, o.col): o for o in occurrences if o.file == file}
    found: list[tuple[int, int, int, int, int]] = []  # (line0, col0 in characters, length, type, modifiers)
    lines = source.split("\n")

    def add(line: int, col: int, length: int, kind: str, modifiers: int = 0) -> None:
        found.append((line - 1, col - 1, length, TOKEN_TYPES.index(kind), modifiers))

    from noodle.stdlib.signatures import PRELUDE, SPECIAL_PRELUDE

    builtins = set(PRELUDE) | set(SPECIAL_PRELUDE) | {"print", "eprint", "str"}
    prev = ""
    for i, tok in enumerate(tokens):
        kind = tok.kind
        length = tok.end - tok.pos
        if kind == "NAME":
            o = names.get((tok.line, tok.col))
            if o is not None:
                add(tok.line, tok.col, length, _KIND_TYPE.get(o.kind, "variable"), 1 if o.definition else 0)
            elif tok.text in BUILTIN_TYPES:
                add(tok.line, tok.col, length, "type", 4)
            elif tok.text in builtins and i + 1 < len(tokens) and tokens[i + 1].kind == "(" and prev != ".":
                add(tok.line, tok.col, length, "function", 4)  # a built-in the program does not shadow
            elif prev == "fn":
                add(tok.line, tok.col, length, "function", 1)
            elif prev == "struct":
                add(tok.line, tok.col, length, "struct", 1)
            else:
                add(tok.line, tok.col, length, "variable")
        elif kind == "STRING":
            add(tok.line, tok.col, length, "string")
        elif kind in ("INT", "FLOAT"):
            add(tok.line, tok.col, length, "number")
        elif kind in KEYWORDS:
            add(tok.line, tok.col, length, "keyword", 2 if kind in _CONSTANTS else 0)
        elif kind and set(kind) <= _OPERATOR_CHARS:
            add(tok.line, tok.col, length, "operator")
        prev = kind
    for m in _comments(source, tokens):
        start_line = source.count("\n", 0, m[0]) + 1
        start_col = m[0] - (source.rfind("\n", 0, m[0]) + 1) + 1
        for i, part in enumerate(source[m[0]:m[1]].split("\n")):  # a block comment, line by line
            if part:
                add(start_line + i, start_col if i == 0 else 1, len(part), "comment")
    return _encode(sorted(found), lines, units or _utf16)


def _comments(source: str, tokens: list) -> list[tuple[int, int]]:
    """The comments: `//` and `/* */` in the gaps between tokens (never inside a string)."""
    out = []
    cursor = 0
    for tok in tokens + [None]:
        stop = tok.pos if tok is not None else len(source)
        out += [(m.start(), m.end()) for m in COMMENT_RE.finditer(source, cursor, stop)]
        if tok is not None:
            cursor = max(cursor, tok.end)
    return out


def _encode(found: list[tuple[int, int, int, int, int]], lines: list[str], units: Callable[[str], int]) -> list[int]:
    data: list[int] = []
    last_line = last_col = 0
    for line, col, length, kind, modifiers in found:
        text = lines[line] if line < len(lines) else ""
        start = units(text[:col])
        size = units(text[col:col + length])
        delta_line = line - last_line
        data += [delta_line, start - last_col if delta_line == 0 else start, size, kind, modifiers]
        last_line, last_col = line, start
    return data


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
