"""Syntax colouring of an entry as it is typed, from the language's own lexer.

Tokens come from the compiler's lexer (so `//` as comment or floor division,
string interpolation and keywords are coloured exactly as they are parsed);
text between tokens that is not blank is a comment.
"""
from __future__ import annotations

from noodle.stdlib.signatures import PRELUDE, SPECIAL_PRELUDE

_BUILTINS = frozenset(PRELUDE) | frozenset(SPECIAL_PRELUDE)


def token_classes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, class) for every token of `text`; classes: keyword, number, string, builtin,
    name, operator, comment.  A text the lexer gives up on is coloured up to that point."""
    from noodle.compiler.lexer import SourceLexer  # the parser's own lexer
    from noodle.compiler.parse_state import CURRENT, ParseContext

    ctx = ParseContext("<repl>", text)
    saved = getattr(CURRENT, "ctx", None)
    CURRENT.ctx = ctx  # interpolated expressions are parsed while lexing
    try:
        raws = SourceLexer(ctx, 0, len(text), 1, 0).tokens()
    except Exception:  # noqa: BLE001 - colouring must never break typing (ParseAborted: too many errors)
        raws = []
    finally:
        CURRENT.ctx = saved
    out: list[tuple[int, int, str]] = []
    pos = 0
    for r in raws:
        if r.kind == "NL" or r.end <= r.pos:
            continue
        if r.pos > pos and text[pos:r.pos].strip():
            out.append((pos, r.pos, "comment"))
        out.append((r.pos, r.end, _class(r.kind, r.text)))
        pos = r.end
    if pos < len(text) and text[pos:].strip():
        tail = text[pos:]
        out.append((pos, len(text), "comment" if tail.lstrip().startswith(("//", "/*")) else "error"))
    return out


def _class(kind: str, text: str) -> str:
    if kind in ("INT", "FLOAT"):
        return "number"
    if kind == "STRING":
        return "string"
    if kind == "NAME":
        return "builtin" if text in _BUILTINS else "name"
    if kind.isalpha():
        return "keyword"
    return "operator"
