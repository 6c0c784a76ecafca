"""Highlighting: the Pygments lexer and the VS Code TextMate grammar agree with the compiler's lexer.

The TextMate grammar is applied by a small engine of the same semantics as vscode-textmate (line
by line; at each position the earliest match wins, the open rule's `end` before its patterns,
then the patterns in order; `begin`/`end` rules nest), with Python's `re` standing in for
Oniguruma (the grammar sticks to the syntax both share).  On every example no region is left
open, every non-blank character is covered by a rule, and comments, strings, keywords and the
floor-division `//` get the scopes the compiler's own tokens say they should.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pygments import lex
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Operator, String

from noodle.compiler.parse_state import KEYWORDS
from noodle.tools.fmt import _lines, source_tokens
from noodle.tools.highlight import NoodleLexer

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = json.loads((ROOT / "editors" / "vscode" / "syntaxes" / "noodle.tmLanguage.json").read_text())
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.nd") if "__noodlecache__" not in p.parts)
IDS = [str(p.relative_to(ROOT / "examples")) for p in EXAMPLES]


# ------------------------------------------------------------------ a TextMate engine


@dataclass
class _Frame:
    rule: dict
    end: re.Pattern | None
    scopes: tuple[str, ...]


@dataclass
class Tokenised:
    scopes: list[list[tuple[str, ...]]] = field(default_factory=list)  # per line, per character
    open_at_end: list[str] = field(default_factory=list)


def _expand(patterns: list[dict]) -> list[dict]:
    out: list[dict] = []
    for p in patterns:
        inc = p.get("include")
        if inc == "$self":
            out += _expand(GRAMMAR["patterns"])
        elif inc:
            out += _expand(GRAMMAR["repository"][inc[1:]]["patterns"])
        else:
            out.append(p)
    return out


_RE_CACHE: dict[str, re.Pattern] = {}


def _re(pattern: str) -> re.Pattern:
    if pattern not in _RE_CACHE:
        _RE_CACHE[pattern] = re.compile(pattern)
    return _RE_CACHE[pattern]


def tokenise(text: str) -> Tokenised:
    result = Tokenised()
    stack = [_Frame({"patterns": GRAMMAR["patterns"]}, None, (GRAMMAR["scopeName"],))]
    for raw in text.split("\n"):
        line = raw + "\n"
        scopes = [stack[-1].scopes] * len(line)
        pos = 0
        while pos <= len(line):
            top = stack[-1]
            best = None  # (start, order, kind, rule, match)
            if top.end is not None:
                m = top.end.search(line, pos)
                if m:
                    best = (m.start(), -1, "end", top.rule, m)
            for order, rule in enumerate(_expand(top.rule.get("patterns", []))):
                m = _re(rule.get("match") or rule["begin"]).search(line, pos)
                if m and (best is None or m.start() < best[0]):
                    best = (m.start(), order, "begin" if "begin" in rule else "match", rule, m)
            if best is None:
                break
            start, _, kind, rule, m = best
            if kind == "end":
                for i in range(m.start(), m.end()):
                    scopes[i] = top.scopes + ("end",)
                stack.pop()
            elif kind == "match":
                names = top.scopes + ((rule["name"],) if "name" in rule else ())
                for i in range(m.start(), m.end()):
                    scopes[i] = names
                for group, cap in rule.get("captures", {}).items():
                    if m.group(int(group)) is not None:
                        for i in range(m.start(int(group)), m.end(int(group))):
                            scopes[i] = names + (cap["name"],)
                if m.end() == m.start():
                    pos = m.end() + 1
                    continue
            else:
                inner = top.scopes + ((rule["name"],) if "name" in rule else ())
                for i in range(m.start(), m.end()):
                    scopes[i] = inner + ("begin",)
                stack.append(_Frame(rule, _re(rule["end"]), inner))
            if m.end() == m.start() and kind == "end":
                pos = m.end()
                continue
            # the rest of the line takes the scopes of the (new) innermost rule until a rule says otherwise
            for i in range(m.end(), len(line)):
                scopes[i] = stack[-1].scopes
            pos = m.end()
        result.scopes.append(scopes[:len(raw)])
    result.open_at_end = [f.rule.get("name") or f.rule.get("begin", "") for f in stack[1:]]
    return result


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)


def _has(scopes: tuple[str, ...], prefix: str) -> bool:
    return any(s.startswith(prefix) for s in scopes)


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_the_textmate_grammar_tokenises_every_example_as_the_compiler_does(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    got = tokenise(text)
    assert got.open_at_end == [], f"{path.name}: regions left open at the end: {got.open_at_end}"
    for n, (raw, scopes) in enumerate(zip(text.split("\n"), got.scopes)):
        for col, ch in enumerate(raw):
            if not ch.isspace():
                assert len(scopes[col]) > 1, f"{path.name}:{n + 1}:{col + 1}: {ch!r} is matched by no rule"
                assert not _has(scopes[col], "invalid"), f"{path.name}:{n + 1}:{col + 1}: invalid {ch!r}"
    for line in _lines(text, source_tokens(text)):
        for item in line:
            if item.kind == "COMMENT":
                continue
            tok = item.token
            n, col = _position(text, tok.pos)
            scopes = got.scopes[n][col]
            where = f"{path.name}:{n + 1}:{col + 1} {item.text[:20]!r}"
            if tok.kind == "STRING":
                assert _has(scopes, "string"), where
            elif _has(scopes, "string") or _has(scopes, "comment"):
                raise AssertionError(f"{where}: a token inside a string or comment: {scopes}")
            elif tok.kind in ("//", "//="):
                assert _has(scopes, "keyword.operator"), where
            elif tok.kind in KEYWORDS and tok.kind not in ("py", "version"):
                assert _has(scopes, "keyword") or _has(scopes, "storage") or _has(scopes, "constant.language"), where
    # every comment the compiler skips is a comment for the grammar
    for line in _lines(text, source_tokens(text)):
        for item in line:
            if item.kind == "COMMENT":
                start = text.index(item.text, 0)
                while True:  # the comment's own occurrence: the one not inside a string
                    n, col = _position(text, start)
                    if not _has(got.scopes[n][col], "string"):
                        break
                    start = text.index(item.text, start + 1)
                assert _has(got.scopes[n][col], "comment"), f"{path.name}:{n + 1}: {item.text!r}"


def test_the_grammar_knows_exactly_the_languages_keywords() -> None:
    words: set[str] = set()
    for rule in GRAMMAR["repository"]["keywords"]["patterns"]:
        words |= set(re.fullmatch(r"\\b\(\?:(.*)\)\\b", rule["match"]).group(1).split("|"))
    assert words == set(KEYWORDS)


def test_a_slash_slash_is_a_comment_or_floor_division_as_the_compiler_decides() -> None:
    text = 'let a = n // 2\nvar c = 0     // module state\n// a note\nlet d = "x // y"\n'
    got = tokenise(text)
    assert _has(got.scopes[0][10], "keyword.operator") and not _has(got.scopes[0][10], "comment")
    assert _has(got.scopes[1][14], "comment")
    assert _has(got.scopes[2][0], "comment")
    assert _has(got.scopes[3][11], "string") and not _has(got.scopes[3][11], "comment")
    assert got.open_at_end == []
    assert tokenise('let s = "open\n').open_at_end == []  # strings stay on one line
    assert tokenise("fn f() {\n").open_at_end != []  # an unclosed block is a region left open


# ------------------------------------------------------------------ Pygments


def test_the_pygments_lexer_is_registered() -> None:
    assert isinstance(get_lexer_by_name("noodle"), NoodleLexer)
    assert isinstance(get_lexer_for_filename("main.nd"), NoodleLexer)


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_the_pygments_lexer_colours_every_example_as_the_compiler_reads_it(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    tokens = list(NoodleLexer().get_tokens_unprocessed(text))
    assert "".join(v for _, _, v in tokens) == text
    offsets = [i for i, _, _ in tokens]
    assert offsets == sorted(offsets)
    bad = path.name.startswith("bad_")
    assert bad or not [v for _, t, v in tokens if t in Error], path.name
    by_offset = {i: t for i, t, _ in tokens}
    for tok in source_tokens(text):
        if tok.kind == "NL":
            continue
        ttype = by_offset.get(tok.pos)
        assert ttype is not None, f"{path.name}: no Pygments token starts at {tok.text!r}"
        if tok.kind == "STRING":
            assert ttype in String
        elif tok.kind in ("//", "//="):
            assert ttype in Operator
        elif tok.kind in KEYWORDS:
            assert ttype in Keyword or ttype in Operator.Word, (tok.text, ttype)
    comments = [v for v in (item.text for line in _lines(text, source_tokens(text)) for item in line
                            if item.kind == "COMMENT")]
    assert [v.rstrip() for _, t, v in tokens if t in Comment] == comments


def test_pygments_colours_a_comment_and_floor_division_apart() -> None:
    out = list(lex("let a = n // 2  // half\n", NoodleLexer()))
    assert (Operator, "//") in out and (Comment.Single, "// half") in out
