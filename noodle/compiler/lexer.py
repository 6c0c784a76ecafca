"""The Noodle lexer: source text -> raw tokens.

It drops comments (deciding for every `//` whether it is the floor-division operator or a comment,
see :meth:`SourceLexer._slash_slash_is_operator`), decodes strings (escapes, `{expr}` interpolation,
whose expressions are parsed at once with the expression grammar at their real line/column),
validates numbers and reports invalid characters.  The driver (:mod:`noodle.compiler.lalr`) feeds
its tokens to the LALR tables.
"""
from __future__ import annotations

import re
from typing import Any

from noodle.compiler.parse_state import KEYWORDS, ParseAborted, ParseContext
# =========================================================================
# Lexer
# =========================================================================

class RawToken:
    """One raw token.  `kind` is NAME, INT, FLOAT, STRING, NL, or the source text
    of a keyword or punctuation mark."""

    __slots__ = ("kind", "type", "text", "line", "col", "end_line", "end_col", "pos", "end", "bol", "lam")

    def __init__(self, kind: str, text: str, line: int, col: int, end_line: int, end_col: int,
                 pos: int, end: int, bol: bool) -> None:
        self.kind = kind
        self.type = kind  # the terminal name, set by the driver
        self.text = text
        self.line = line
        self.col = col
        self.end_line = end_line
        self.end_col = end_col
        self.pos = pos
        self.end = end
        self.bol = bol  # first token on its line
        self.lam = False  # `(` whose matching `)` is followed by `=>`

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<{self.type} {self.text!r} {self.line}:{self.col}>"


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<nl>\n)
  | (?P<num>0[xXbBoO][A-Za-z0-9_]*
          | [0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9][0-9_]*)?[A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>")
  | (?P<op>//=|//|/\*|\*\*|\.\.=|\.\.|=>|==|!=|<=|>=|<<|>>|\+=|-=|\*=|/=|%=|->|&&|\|\|
          |[-+*/%@|^&<>=()\[\]{},:;.!])
    """,
    re.VERBOSE,
)
_DEC_INT = re.compile(r"[0-9]+(?:_[0-9]+)*\Z")
_HEX_INT = re.compile(r"0[xX]_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*\Z")
_BIN_INT = re.compile(r"0[bB]_?[01]+(?:_[01]+)*\Z")
_OCT_INT = re.compile(r"0[oO]_?[0-7]+(?:_[0-7]+)*\Z")
_FLOAT = re.compile(r"[0-9]+(?:_[0-9]+)*(?:\.[0-9]+(?:_[0-9]+)*)?(?:[eE][+-]?[0-9]+(?:_[0-9]+)*)?\Z")
_STR_PLAIN = re.compile(r'[^"\\{}\n]+')
_UNICODE_ESC = re.compile(r"\{([0-9a-fA-F]{1,6})\}")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "{": "{", "}": "}", "r": "\r", "0": "\0"}
_ESCAPE_HINT = r'valid escapes are \n \t \\ \" \{ \} \r \0 and \u{XXXX}'

# Raw kinds after which an operand has just ended (used by the `//` rule and by
# the lambda-paren / map-vs-block fall-backs).
_OPERAND_END_KINDS = frozenset({"NAME", "INT", "FLOAT", "STRING", ")", "]", "true", "false", "none"})

STMT_KEYWORDS = frozenset({
    "let", "var", "const", "fn", "struct", "if", "while", "for", "return", "break", "continue",
    "throw", "try", "assert", "test", "import", "from", "module", "@",
})


class SourceLexer:
    def __init__(self, ctx: ParseContext, pos: int, end: int, line: int, line_start: int) -> None:
        self.ctx = ctx
        self.src = ctx.src
        self.pos = pos
        self.end = end
        self.line = line
        self.line_start = line_start

    def _err(self, code: str, msg: str, line: int, col: int, end_col: int, hint: str | None = None) -> None:
        self.ctx.error(code, msg, self.ctx.span(line, col, line, max(end_col, col + 1)), hint)
        if self.ctx.aborted:
            raise ParseAborted()

    def _slash_slash_is_operator(self, prev: RawToken | None, pos: int, after: int) -> bool:
        """The `//` rule.

        `//` (and `//=`) is the floor-division operator when
          * the previous significant token is on the same line and ends an
            operand (a name, number, string, `)`, `]`, `true`, `false`, `none`),
          * at most one space or tab separates that token from the `//`, and
          * the line does not end right after it (something other than blanks
            follows on the same line);
        otherwise it starts a comment that runs to the end of the line.
        So `a // b`, `a//b`, `(a + b) // 2` and `x //= 2` are operators, while
        `var counter = 0     // module state` and a whole-line `// note` are
        comments.
        """
        src = self.src
        if prev is None or prev.kind not in _OPERAND_END_KINDS or prev.end_line != self.line:
            return False
        if src[prev.end:pos] not in ("", " ", "\t"):
            return False
        eol = src.find("\n", after, self.end)
        if eol < 0:
            eol = self.end
        return src[after:eol].strip() != ""

    def tokens(self) -> list[RawToken]:
        src, end = self.src, self.end
        out: list[RawToken] = []
        append = out.append
        prev: RawToken | None = None  # previous significant (non-NL) token
        bol = True
        match = _TOKEN_RE.match
        if self.pos == 0 and src.startswith("\ufeff"):
            self.pos = 1
            self.line_start = 1
        pos = self.pos
        while pos < end:
            m = match(src, pos, end)
            if m is None:
                ch = src[pos]
                col = pos - self.line_start + 1
                close = src.find("'", pos + 1, end) if ch == "'" else -1
                if close >= 0 and "\n" not in src[pos:close]:
                    # 'text': report once, then go on as if it were "text"
                    self._err("E0002", "strings are written in double quotes", self.line, col,
                              close - self.line_start + 2, 'write "..." instead of \'...\'')
                    self.ctx.payloads[pos] = src[pos + 1:close]
                    tok = RawToken("STRING", src[pos:close + 1], self.line, col, self.line,
                               close - self.line_start + 2, pos, close + 1, bol)
                    append(tok)
                    prev = tok
                    bol = False
                    pos = close + 1
                    continue
                if ch == "\\":
                    self._err("E0002", "unexpected '\\' outside a string", self.line, col, col + 1)
                elif ch.isprintable() and not ch.isspace():
                    self._err("E0002", f"invalid character '{ch}'", self.line, col, col + 1)
                else:
                    self._err("E0002", f"invalid character U+{ord(ch):04X}", self.line, col, col + 1)
                pos += 1
                continue
            kind = m.lastgroup
            mend = m.end()
            if kind == "ws":
                pos = mend
                continue
            line = self.line
            col = pos - self.line_start + 1
            if kind == "nl":
                append(RawToken("NL", "\n", line, col, line, col + 1, pos, mend, bol))
                self.line += 1
                self.line_start = mend
                bol = True
                pos = mend
                continue
            text = m.group()
            if kind == "name":
                rk = text if text in KEYWORDS else "NAME"
            elif kind == "num":
                rk = self._number(text, line, col)
            elif kind == "str":
                self.pos = pos
                tok = self._string(pos, bol)
                append(tok)
                prev = tok
                bol = False
                pos = tok.end
                continue
            else:
                rk = text
                if text == "//" or text == "//=":
                    if not self._slash_slash_is_operator(prev, pos, mend):
                        eol = src.find("\n", pos, end)
                        pos = end if eol < 0 else eol
                        continue
                elif text == "/*":
                    close = src.find("*/", mend, end)
                    if close < 0:
                        self._err("E0002", "unterminated block comment", line, col, col + 2,
                                  "close it with `*/` (block comments do not nest)")
                        close = end
                        stop = end
                    else:
                        stop = close + 2
                    nl = src.find("\n", pos, close)
                    if nl >= 0:
                        # a comment that spans lines ends the statement like a newline
                        ncol = nl - self.line_start + 1
                        append(RawToken("NL", "\n", line, ncol, line, ncol + 1, nl, nl + 1, bol))
                        self.line += src.count("\n", pos, close)
                        self.line_start = src.rfind("\n", pos, close) + 1
                        bol = True
                    pos = stop
                    continue
                elif text == "!":
                    self._err("E0002", "invalid character '!'", line, col, col + 1,
                              "use `not` for logical negation (and `!=` for inequality)")
                    rk = text = "not"
                elif text == "&&":
                    self._err("E0001", "`&&` is not a Noodle operator", line, col, col + 2, "use `and`")
                    rk = "and"
                elif text == "||":
                    self._err("E0001", "`||` is not a Noodle operator", line, col, col + 2, "use `or`")
                    rk = "or"
            tok = RawToken(rk, text, line, col, line, col + (mend - pos), pos, mend, bol)
            append(tok)
            prev = tok
            bol = False
            pos = mend
        # mark `(` that open a lambda parameter list: the matching `)` is followed by `=>`
        opens: list[int] = []
        n = len(out)
        for i in range(n):
            k = out[i].kind
            if k == "(":
                opens.append(i)
            elif k == ")" and opens:
                j = opens.pop()
                if i + 1 < n and out[i + 1].kind == "=>":
                    out[j].lam = True
        return out

    # ---------------------------------------------------------------- numbers

    def _number(self, text: str, line: int, col: int) -> str:
        end_col = col + len(text)
        if text[:2] in ("0x", "0X", "0b", "0B", "0o", "0O"):
            rx = {"x": _HEX_INT, "b": _BIN_INT, "o": _OCT_INT}[text[1].lower()]
            if rx.match(text):
                return "INT"
        elif _DEC_INT.match(text):
            return "INT"
        elif _FLOAT.match(text):
            return "FLOAT"
        self._err("E0002", f"invalid number literal '{text}'", line, col, end_col,
                  "numbers look like 42, 1_000, 0xff, 0b1010, 3.14, 1e-9")
        if text[:2].lower() in ("0x", "0b", "0o") or not any(c in text for c in ".eE"):
            return "INT"
        return "FLOAT"

    # ---------------------------------------------------------------- strings

    def _string(self, start: int, bol: bool) -> RawToken:
        """Lex the string literal whose `"` is at `start` (strings stay on one line)."""
        src, end, ctx = self.src, self.end, self.ctx
        line, ls = self.line, self.line_start
        parts: list[Any] = []
        buf: list[str] = []
        interp = False
        i = start + 1
        plain = _STR_PLAIN.match
        while True:
            if i >= end or src[i] == "\n":
                self._err("E0002", "unterminated string literal", line, start - ls + 1, i - ls + 1,
                          'close the string with `"` on the same line')
                break
            c = src[i]
            if c == '"':
                i += 1
                break
            if c == "\\":
                nxt = src[i + 1] if i + 1 < end else ""
                if nxt in _SIMPLE_ESCAPES and nxt:
                    buf.append(_SIMPLE_ESCAPES[nxt])
                    i += 2
                elif nxt == "u":
                    m = _UNICODE_ESC.match(src, i + 2, end)
                    cp = int(m.group(1), 16) if m else -1
                    if m and cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF:
                        buf.append(chr(cp))
                        i = m.end()
                    else:
                        stop = m.end() if m else i + 2
                        self._err("E0003", "invalid unicode escape", line, i - ls + 1, stop - ls + 1,
                                  "write \\u{XXXX} with 1 to 6 hex digits of a valid code point")
                        i = stop
                elif nxt == "" or nxt == "\n":
                    i += 1  # the loop reports the unterminated string
                else:
                    self._err("E0003", f"invalid escape sequence '\\{nxt}'", line, i - ls + 1, i - ls + 3,
                              _ESCAPE_HINT)
                    buf.append(nxt)
                    i += 2
                continue
            if c == "{":
                j = _find_interp_end(src, i, end)
                if j < 0:
                    self._err("E0002", "unterminated interpolation in string: '{' is never closed",
                              line, i - ls + 1, i - ls + 2, r"write \{ for a literal brace")
                    stop = src.find("\n", i, end)
                    i = end if stop < 0 else stop
                    break
                interp = True
                if buf:
                    parts.append("".join(buf))
                    buf = []
                if src[i + 1:j].strip() == "":
                    self._err("E0001", "empty expression in string interpolation", line, i - ls + 1,
                              j - ls + 2, r"write \{ and \} for literal braces")
                else:
                    from noodle.compiler.lalr import parse_fragment  # interpolation parses with the tables

                    e = parse_fragment(ctx, i + 1, j, line, ls)
                    if e is not None:
                        parts.append(e)
                i = j + 1
                continue
            if c == "}":
                buf.append("}")  # a lone `}` is literal text (`\}` also works)
                i += 1
                continue
            m = plain(src, i, end)
            buf.append(m.group())
            i = m.end()
        if buf:
            parts.append("".join(buf))
        ctx.payloads[start] = parts if interp else "".join(parts)
        return RawToken("STRING", src[start:i], line, start - ls + 1, line, i - ls + 1, start, i, bol)


def _find_interp_end(src: str, i: int, end: int) -> int:
    """Index of the `}` closing the interpolation opened by the `{` at `i`, or -1.

    Nested braces (map literals, blocks) and nested strings (with their own
    interpolations) are skipped; a newline ends the search (strings are one line).
    """
    stack = ["{"]
    k = i + 1
    while k < end:
        ch = src[k]
        if ch == "\n":
            return -1
        if stack[-1] == '"':
            if ch == "\\":
                k += 2
                continue
            if ch == '"':
                stack.pop()
            elif ch == "{":
                stack.append("{")
        else:
            if ch == '"':
                stack.append('"')
            elif ch == "{":
                stack.append("{")
            elif ch == "}":
                stack.pop()
                if not stack:
                    return k
        k += 1
    return -1


