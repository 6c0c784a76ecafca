"""Grammar resources of the Noodle compiler.

`noodle.lark` is the LALR grammar that :mod:`noodle.compiler.parser` compiles
(once per process, cached on disk).  The tokens are produced by the parser's
own lexer; see the header of `noodle.lark`.
"""
from __future__ import annotations

from pathlib import Path

#: Path of the Lark grammar file shipped with the package.
GRAMMAR_PATH: Path = Path(__file__).with_name("noodle.lark")


def grammar_text() -> str:
    """The grammar source, as text."""
    return GRAMMAR_PATH.read_text(encoding="utf-8")
