"""The Noodle parser: source text -> :class:`noodle.compiler.ast.Module`.

Public API::

    parse(source, file="<input>") -> ast.Module          # raises CompileError
    parse_expression(source, file="<input>") -> ast.Expr # for the REPL's `:type EXPR`

Both raise :class:`~noodle.compiler.diagnostics.CompileError` (and nothing
else) on bad input; every diagnostic has a code (E0001-E0005) and a span.

How it works
------------
1. A hand-written lexer (:class:`_Lexer`) turns the text into raw tokens.  It
   drops comments (deciding for every `//` whether it is the floor-division
   operator or a comment, see :meth:`_Lexer._slash_slash_is_operator`),
   decodes strings (escapes, `{expr}` interpolation, whose expressions are
   parsed at once with the expression grammar at their real line/column),
   validates numbers and reports invalid characters.
2. A post-lexer (:class:`_Driver`) keeps a bracket stack and feeds the tokens
   one by one to Lark's LALR parser (grammar: ``noodle/grammar/noodle.lark``):
   it turns significant newlines and `;` into SEP, decides whether `{` opens
   a block or a map literal, marks the `(` of lambda parameter lists, splits
   `>>`/`>=` that close generic type arguments, and recovers from syntax
   errors (several diagnostics per run).
3. Lark calls :class:`_Builder`'s methods at each reduction, which build the
   AST nodes directly (no intermediate parse tree) with accurate spans.

The Lark parser is built once per process, lazily, and its analysed tables
are cached on disk (``$NOODLE_CACHE_DIR`` or ``$XDG_CACHE_HOME/noodle`` or
``~/.cache/noodle``; a temporary directory, or no cache, when those are not
writable).
"""
from __future__ import annotations

import os
import re
import sys
import threading
from typing import Any

from noodle.compiler import ast
from noodle.compiler.ast import Span
from noodle.compiler.diagnostics import CompileError, DiagnosticBag

__all__ = ["parse", "parse_expression", "KEYWORDS", "MAX_ERRORS", "MAX_NESTING"]

KEYWORDS = frozenset(
    "module version import from py as const let var fn return if else while for in "
    "break continue struct true false none and or not assert try catch throw test".split()
)

#: Keywords that are names wherever the grammar cannot take the keyword.
_CONTEXTUAL_KEYWORDS = frozenset({"py", "version"})

#: At most this many diagnostics are reported by one parse.
MAX_ERRORS = 20
#: Deepest nesting accepted, both of brackets in the source and of the AST
#: (later passes walk the tree recursively; this keeps them far from Python's
#: recursion limit).
MAX_NESTING = 200
#: Deepest nesting of string interpolation (`"{f("{x}")}"`).
MAX_INTERP_DEPTH = 16

_INT_MAX = 2**63 - 1
# The LALR stack grows by a few entries per nesting level (unary chains,
# right-associative `**`, blocks); past this the program is nested too deeply.
_MAX_STACK = 5 * MAX_NESTING


# =========================================================================
# Lark set-up (lazy, cached on disk)
# =========================================================================

_LARK: Any = None
_TERMS: dict[str, str] = {}  # source text of a keyword/punctuation -> terminal name
_LOCK = threading.Lock()


def _cache_dir() -> str | None:
    """A writable per-user directory for the parser-table cache, or None."""
    import tempfile

    candidates = []
    env = os.environ.get("NOODLE_CACHE_DIR")
    if env:
        candidates.append(env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        if xdg:
            candidates.append(os.path.join(xdg, "noodle"))
        try:
            candidates.append(os.path.join(os.path.expanduser("~"), ".cache", "noodle"))
        except Exception:  # pragma: no cover - no home directory
            pass
    try:
        uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
        candidates.append(os.path.join(tempfile.gettempdir(), f"noodle-cache-{uid}"))
    except Exception:  # pragma: no cover
        pass
    for d in candidates:
        try:
            os.makedirs(d, exist_ok=True)
            if os.access(d, os.W_OK | os.X_OK):
                return d
        except OSError:
            continue
    return None


def _get_lark() -> Any:
    global _LARK
    if _LARK is None:
        with _LOCK:
            if _LARK is None:
                _LARK = _build_lark()
    return _LARK


def _build_lark() -> Any:
    import hashlib

    import lark
    from lark.lexer import Lexer

    from noodle.grammar import grammar_text

    global NoodleNoLexer
    if NoodleNoLexer is None:
        # module-level so that the pickled parser options can refer to it
        NoodleNoLexer = type("NoodleNoLexer", (Lexer,), {
            "__init__": lambda self, conf: None,
            "lex": _no_lex,
            "__module__": __name__,
            "__doc__": "Placeholder: tokens come from noodle's own lexer, never from Lark's.",
        })

    grammar = grammar_text()
    options = dict(
        parser="lalr", lexer=NoodleNoLexer, start=["start", "expression"], keep_all_tokens=True,
        maybe_placeholders=False, transformer=_BUILDER,
    )
    key = hashlib.sha256(
        "\0".join([grammar, lark.__version__, sys.version, "noodle-parser-1"]).encode()
    ).hexdigest()[:20]
    parser = None
    cdir = _cache_dir()
    if cdir is not None:
        path = os.path.join(cdir, f"parser-{key}.lark-cache")
        try:
            if os.path.exists(path):
                parser = lark.Lark(grammar, cache=path, **options)
            else:
                # write under a private name, then rename: concurrent processes
                # never see a half-written cache file
                tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
                parser = lark.Lark(grammar, cache=tmp, **options)
                try:
                    if os.path.getsize(tmp) > 1024:
                        os.replace(tmp, path)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
        except Exception:
            parser = None
    if parser is None:
        parser = lark.Lark(grammar, **options)
    for t in parser.terminals:
        if t.pattern.type == "str":
            _TERMS[t.pattern.value] = t.name
    return parser


NoodleNoLexer: Any = None


def _no_lex(self: Any, *args: Any) -> Any:  # pragma: no cover - never called
    raise NotImplementedError("noodle feeds tokens itself")


# =========================================================================
# Per-parse context
# =========================================================================

class _Ctx:
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


_TLS = threading.local()


class _Abort(Exception):
    """Stop parsing (too many errors, or nesting too deep)."""


# =========================================================================
# Lexer
# =========================================================================

class _Raw:
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

_STMT_KEYWORDS = frozenset({
    "let", "var", "const", "fn", "struct", "if", "while", "for", "return", "break", "continue",
    "throw", "try", "assert", "test", "import", "from", "module", "@",
})


class _Lexer:
    def __init__(self, ctx: _Ctx, pos: int, end: int, line: int, line_start: int) -> None:
        self.ctx = ctx
        self.src = ctx.src
        self.pos = pos
        self.end = end
        self.line = line
        self.line_start = line_start

    def _err(self, code: str, msg: str, line: int, col: int, end_col: int, hint: str | None = None) -> None:
        self.ctx.error(code, msg, self.ctx.span(line, col, line, max(end_col, col + 1)), hint)
        if self.ctx.aborted:
            raise _Abort()

    def _slash_slash_is_operator(self, prev: _Raw | None, pos: int, after: int) -> bool:
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

    def tokens(self) -> list[_Raw]:
        src, end = self.src, self.end
        out: list[_Raw] = []
        append = out.append
        prev: _Raw | None = None  # previous significant (non-NL) token
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
                    tok = _Raw("STRING", src[pos:close + 1], self.line, col, self.line,
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
                append(_Raw("NL", "\n", line, col, line, col + 1, pos, mend, bol))
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
                        append(_Raw("NL", "\n", line, ncol, line, ncol + 1, nl, nl + 1, bol))
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
            tok = _Raw(rk, text, line, col, line, col + (mend - pos), pos, mend, bol)
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

    def _string(self, start: int, bol: bool) -> _Raw:
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
                    e = _parse_fragment(ctx, i + 1, j, line, ls)
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
        return _Raw("STRING", src[start:i], line, start - ls + 1, line, i - ls + 1, start, i, bol)


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


# =========================================================================
# Driver: post-lexer (bracket stack), feeding Lark, error recovery
# =========================================================================

_EXPR_START = frozenset({"NAME", "INT", "FLOAT", "STRING", "TRUE", "FALSE", "NONE", "LPAR", "LSQB",
                         "MAP_OPEN", "MINUS", "PLUS", "NOT", "LAMBDA_LPAR"})
_TYPE_START = frozenset({"NAME", "LPAR", "FN", "NONE"})
_STMT_START = _EXPR_START | {"LET", "VAR", "CONST", "IF", "WHILE", "FOR", "BREAK", "CONTINUE", "RETURN",
                             "THROW", "TRY", "ASSERT", "BLOCK_OPEN", "FN", "STRUCT", "TEST", "IMPORT",
                             "FROM", "MODULE", "AT"}
_BINARY_OPS = frozenset({"OR", "AND", "EQEQ", "NOTEQ", "LESSTHAN", "LE", "MORETHAN", "GE", "IN", "NOT",
                         "DOTDOT", "DOTDOTEQ", "VBAR", "CIRCUMFLEX", "AMPERSAND", "SHL", "SHR", "PLUS",
                         "MINUS", "STAR", "SLASH", "FLOORDIV", "PERCENT", "AT", "POW", "IF"})
_AUGMENTED = frozenset({"PLUS_EQ", "MINUS_EQ", "STAR_EQ", "SLASH_EQ", "FLOORDIV_EQ", "PERCENT_EQ"})
_COMPARISONS = frozenset({"EQEQ", "NOTEQ", "LESSTHAN", "LE", "MORETHAN", "GE", "IN"})
_OPERAND_END_TYPES = frozenset({"NAME", "INT", "FLOAT", "STRING", "RPAR", "RSQB", "TRUE", "FALSE", "NONE"})
_BLOCK_AFTER = _OPERAND_END_TYPES | {None, "SEP", "BLOCK_OPEN", "RBRACE", "ELSE", "TRY", "CATCH",
                                     "FAT_ARROW", "MORETHAN", "SHR"}
_BLOCK_KEYWORDS = {"IF": "if", "WHILE": "while", "FOR": "for", "ELSE": "else", "TRY": "try",
                   "CATCH": "catch", "FN": "fn", "STRUCT": "struct", "TEST": "test"}
_WORD_ORDER = ["RPAR", "RSQB", "RBRACE", "COMMA", "COLON", "EQUAL", "BLOCK_OPEN", "FAT_ARROW", "IN",
               "ARROW", "ELSE", "CATCH", "MORETHAN", "DOT", "IMPORT", "AS"]
_SPECIAL_WORDS = {"NAME": "a name", "INT": "a number", "FLOAT": "a number", "STRING": "a string",
                  "SEP": "a newline", "$END": "end of input", "BLOCK_OPEN": "'{'", "MAP_OPEN": "'{'",
                  "LAMBDA_LPAR": "'('"}


_NAME_FIXES = {
    "elif": "use `else if`", "null": "use `none`", "nil": "use `none`", "None": "use `none`",
    "True": "use `true`", "False": "use `false`", "def": "functions are declared with `fn`",
    "function": "functions are declared with `fn`", "func": "functions are declared with `fn`",
    "switch": "Noodle has no `switch`; use `if ... else if ...`",
}


def _join_words(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


class _Tables:
    """The LALR tables of the Lark grammar, flattened for a fast feed loop.

    `table[state][symbol]` is `(0, next_state)` for a shift or goto,
    `(1, size, callback, lhs_name)` for a reduction, and `(2, 1, None, lhs_name)`
    for a unit reduction of an inlined `?rule` (the value stays as it is).  Lark only analyses the
    grammar (and caches the analysis on disk); tokens are fed by
    :class:`_Driver`, which needs finer control (look-ahead decisions,
    checkpoints, error recovery) than Lark's own loop offers.
    """

    def __init__(self, lk: Any) -> None:
        from lark.parsers.lalr_analysis import Shift

        conf = lk.parse_interactive(None, "start").parser_state.parse_conf
        pt = conf.parse_table
        callbacks = conf.callbacks
        table: dict[Any, dict[str, tuple]] = {}
        for state, acts in pt.states.items():
            row: dict[str, tuple] = {}
            for sym, (action, arg) in acts.items():
                if action is Shift:
                    row[str(sym)] = (0, arg)
                elif len(arg.expansion) == 1 and arg.options.expand1 and not arg.alias:
                    # `?rule: x` with one child: the value passes through unchanged
                    row[str(sym)] = (2, 1, None, str(arg.origin.name))
                else:
                    row[str(sym)] = (1, len(arg.expansion), callbacks[arg], str(arg.origin.name))
            table[state] = row
        self.table = table
        self.start_states = dict(pt.start_states)
        self.end_states = dict(pt.end_states)
        self.terminals = frozenset(s for row in table.values() for s in row if s.isupper() or s == "$END")


_TABLES: _Tables | None = None


def _get_tables() -> _Tables:
    global _TABLES
    if _TABLES is None:
        lk = _get_lark()
        with _LOCK:
            if _TABLES is None:
                _TABLES = _Tables(lk)
    return _TABLES


class _Driver:
    """Post-lexer and LALR driver for one token range (a file or an interpolation)."""

    def __init__(self, ctx: _Ctx, raws: list[_Raw], start: str, eof: tuple[int, int, int],
                 fragment: bool = False) -> None:
        tables = _get_tables()
        self.fragment = fragment  # the expression of a string interpolation
        self.ctx = ctx
        self.raws = raws
        self.n = len(raws)
        self.i = 0
        self.T = _TERMS
        self.table = tables.table
        self.terminals = tables.terminals
        self.end_state = tables.end_states[start]
        self.sst: list = [tables.start_states[start]]  # LALR state stack
        self.vst: list = []  # LALR value stack
        self.result: Any = None
        self.pre_stack: list = []  # state stack before the token that failed
        self.stack: list[tuple[str, _Raw]] = []  # brackets: ('p' | 's' | 'm' | 'b', opening token)
        self.prev: str | None = None  # type of the last token handed to the parser
        self.pending: _Raw | None = None  # a NEWLINE or `;` not yet emitted
        self.out: list[tuple[_Raw, bool]] = []  # tokens to hand out before reading more raws (LIFO)
        self.skipping = False
        self.closed_block = False
        self.cur_bol = False
        self.cur_kind: str | None = None
        pos, line, col = eof
        self.eof = _Raw("$END", "", line, col, line, col + 1, pos, pos, False)
        self.eof.type = "$END"
        self.cps: list[tuple[list, list, list, str | None]] = [self._checkpoint()]
        self.last_err: tuple[int, str] | None = None
        self.prev_err: tuple[int, str] | None = None

    # ---------------------------------------------------------------- tokens

    def next(self) -> _Raw:
        """The next token for the parser, with its `type` set."""
        self.closed_block = False
        if self.out:
            tok, self.closed_block = self.out.pop()
            self.prev = tok.type
            self.cur_bol = False
            return tok
        raws, stack = self.raws, self.stack
        while True:
            if self.i >= self.n:
                self.pending = None
                self.prev = "$END"
                self.cur_bol = False
                return self.eof
            r = raws[self.i]
            k = r.kind
            if k == "NL":
                self.i += 1
                if self.pending is None and (not stack or stack[-1][0] == "b"):
                    self.pending = r
                continue
            if k == ";":
                self.i += 1
                if self.pending is None or self.pending.kind == "NL":
                    self.pending = r
                continue
            if self.pending is not None:
                p = self.pending
                self.pending = None
                if p.kind == "NL" and (k == "else" or k == "catch"):
                    pass  # `}\nelse {`
                elif self.prev is None or self.prev == "SEP" or self.prev == "BLOCK_OPEN":
                    pass  # blank lines, leading or doubled separators
                else:
                    p.type = "SEP"
                    self.prev = "SEP"
                    self.cur_bol = False
                    return p
            self.i += 1
            self._convert(r)
            self.prev = r.type
            self.cur_bol = r.bol
            self.cur_kind = k
            return r

    def _convert(self, r: _Raw) -> None:
        """Set the terminal type of a raw token, keeping the bracket stack."""
        k = r.kind
        stack = self.stack
        if k in ("NAME", "INT", "FLOAT", "STRING"):
            r.type = k
        elif k in KEYWORDS:
            # after `.`, a keyword is an ordinary field/module name (`obj.test`); `py` and `version`
            # are keywords only where the grammar can take them (`import py ...`, a module header),
            # so `let (px, py) = p` and `var version = 2` read as programmers expect
            if self.prev == "DOT" or (k in _CONTEXTUAL_KEYWORDS and not self._accepts(self.T[k])):
                r.type = "NAME"
            else:
                r.type = self.T[k]
        elif k == "{":
            r.type = self._brace_kind()
            self._push("b" if r.type == "BLOCK_OPEN" else "m", r)
        elif k == "(":
            self._push("p", r)
            r.type = "LAMBDA_LPAR" if r.lam and self.prev not in _OPERAND_END_TYPES else "LPAR"
        elif k == "[":
            self._push("s", r)
            r.type = "LSQB"
        elif k == ")":
            if stack and stack[-1][0] == "p":
                stack.pop()
            r.type = "RPAR"
        elif k == "]":
            if stack and stack[-1][0] == "s":
                stack.pop()
            r.type = "RSQB"
        elif k == "}":
            if stack and stack[-1][0] in "bm":
                self.closed_block = stack.pop()[0] == "b"
            r.type = "RBRACE"
        elif (k == ">>" or k == ">=") and not self.skipping and not self._accepts(self.T[k]) \
                and self._accepts("MORETHAN"):
            # `>>` / `>=` closing generic arguments: `Map<str, List<int>>`; the
            # second half comes next
            r.type = "MORETHAN"
            second = _Raw(k[1], k[1], r.line, r.col + 1, r.end_line, r.end_col, r.pos + 1, r.end, False)
            second.type = "MORETHAN" if k == ">>" else "EQUAL"
            self.out.append((second, False))
            r.end_col, r.end = r.col + 1, r.pos + 1
        else:
            r.type = self.T[k]

    def _push(self, kind: str, r: _Raw) -> None:
        self.stack.append((kind, r))
        if len(self.stack) > MAX_NESTING:
            self.ctx.error("E0001", f"program nested too deeply (more than {MAX_NESTING} levels of brackets)",
                           self.ctx.span(r.line, r.col, r.end_line, r.end_col),
                           "split the expression or the block into smaller parts")
            raise _Abort()

    def _brace_kind(self) -> str:
        """Does this `{` open a block or a map literal?

        The parser state decides: where only one of them can follow, that is
        it (`if x in {"a": 1} {` -> map, then block).  Where both can (at the
        start of a statement, after `=>`), it is a block.  When neither can
        (a syntax error follows anyway) the previous token decides: a block
        after something that ends an operand, `else`, `try`, `catch`, `=>`,
        and at the start of a statement; a map otherwise.
        """
        if not self.skipping:
            if self._accepts("BLOCK_OPEN"):
                return "BLOCK_OPEN"
            if self._accepts("MAP_OPEN"):
                return "MAP_OPEN"
        return "BLOCK_OPEN" if self.prev in _BLOCK_AFTER else "MAP_OPEN"

    # ---------------------------------------------------------------- LALR

    def _accepts(self, ttype: str, stack: list | None = None) -> bool:
        """Would the parser shift `ttype` now?  Simulates the reductions on the
        state stack only (no callbacks), so unlike a look at the current
        state's row it is not fooled by look-aheads LALR merged from other states."""
        table = self.table
        st = self.sst if stack is None else stack
        copied = False
        while True:
            a = table[st[-1]].get(ttype)
            if a is None:
                return False
            if a[0] == 0:
                return True
            if not copied:
                st = list(st)
                copied = True
            size = a[1]
            if size:
                del st[-size:]
            st.append(table[st[-1]][a[3]][1])
            if ttype == "$END" and st[-1] == self.end_state:
                return True

    def _feed(self, tok: _Raw) -> bool:
        """Feed one token (reducing as needed); False on a syntax error."""
        ttype = tok.type
        st, vs, table = self.sst, self.vst, self.table
        undo: list | None = None
        while True:
            a = table[st[-1]].get(ttype)
            if a is None:
                pre = list(st)
                if undo:
                    for seg in reversed(undo):
                        pre.pop()
                        pre.extend(seg)
                self.pre_stack = pre
                return False
            kind = a[0]
            if kind == 0:
                st.append(a[1])
                vs.append(tok)
                return True
            if kind == 2:
                if undo is None:
                    undo = [[st[-1]]]
                else:
                    undo.append([st[-1]])
                st[-1] = table[st[-2]][a[3]][1]
                continue
            size = a[1]
            if size:
                seg = st[-size:]
                children = vs[-size:]
                del st[-size:]
                del vs[-size:]
            else:
                seg = []
                children = []
            if undo is None:
                undo = [seg]
            else:
                undo.append(seg)
            value = a[2](children)
            st.append(table[st[-1]][a[3]][1])
            vs.append(value)
            if ttype == "$END" and st[-1] == self.end_state:
                self.result = value
                return True

    def _checkpoint(self) -> tuple[list, list, list, str | None]:
        return (list(self.sst), list(self.vst), list(self.stack), self.prev)

    def run(self) -> Any:
        ctx = self.ctx
        cps = self.cps
        while True:
            tok = self.next()
            t = tok.type
            if not self._feed(tok):
                self._report(tok, self._expected())
                if t == "$END" or ctx.aborted or not self._recover(tok):
                    return None
                continue
            if t == "$END":
                return self.result
            if len(self.sst) > _MAX_STACK:
                ctx.error("E0001", f"program nested too deeply (more than {MAX_NESTING} levels)",
                          ctx.span(tok.line, tok.col, tok.end_line, tok.end_col),
                          "split the expression or the block into smaller parts")
                raise _Abort()
            if t == "SEP":
                if len(self.stack) == len(cps[-1][2]):
                    cps[-1] = self._checkpoint()
            elif t == "BLOCK_OPEN":
                cps.append(self._checkpoint())
            elif t == "RBRACE" and self.closed_block:
                depth = len(self.stack)
                while len(cps) > 1 and len(cps[-1][2]) > depth:
                    cps.pop()

    def _restore(self, cp: tuple[list, list, list, str | None], stack: list) -> None:
        self.sst = list(cp[0])
        self.vst = list(cp[1])
        self.stack = list(stack)
        self.prev = cp[3]
        self.pending = None

    def _recover(self, tok: _Raw) -> bool:
        """Skip to a point where parsing can go on; False when the input is exhausted.

        The parser goes back to the last checkpoint (the start of the current
        statement in the innermost block) and tokens are skipped up to the
        end of that statement: a separator at the checkpoint's bracket depth
        (consumed), the `}` closing its block (fed again), or a statement
        keyword at the start of a line (fed again; this recovers from an
        unclosed bracket).  A token that fails twice in a row is skipped.
        """
        cp = self.cps[-1]
        cp_stack = cp[2]
        depth0 = len(cp_stack)
        repeated = (tok.pos, tok.type) == self.prev_err
        first = True
        while True:
            t = tok.type
            if t == "$END":
                return False
            depth = len(self.stack)
            fresh = not (first and repeated)
            if t == "SEP" and depth == depth0:
                self._restore(cp, cp_stack)
                return True
            if t == "RBRACE" and self.closed_block and depth == depth0 - 1 and fresh:
                self._restore(cp, cp_stack[:-1])
                self.out.append((tok, True))  # fed again: it closes the checkpoint's block
                return True
            if (self.cur_bol and fresh and depth >= depth0 and t != "SEP"
                    and self.cur_kind in _STMT_KEYWORDS and not self.out):
                self._restore(cp, cp_stack)
                self.i -= 1  # read the keyword again
                return True
            first = False
            self.skipping = True
            try:
                tok = self.next()
            finally:
                self.skipping = False

    # ---------------------------------------------------------------- messages

    def _expected(self) -> set[str]:
        """Terminals the parser would have accepted instead of the failing token."""
        pre = self.pre_stack
        return {t for t in self.terminals if self._accepts(t, pre)}

    def _describe(self, tok: _Raw) -> str:
        t = tok.type
        v = tok.text
        if t == "SEP":
            return "end of line" if v == "\n" else "';'"
        if t == "$END":
            return "'}' (end of the interpolated expression)" if self.fragment else "end of input"
        if t == "NAME":
            return f"name '{v[:40]}'"
        if t in ("INT", "FLOAT"):
            return f"number {v[:40]}"
        if t == "STRING":
            return "string literal"
        if v in KEYWORDS:
            return f"keyword '{v}'"
        return f"'{v}'"

    def _expected_words(self, expected: set[str]) -> str:
        """The expected terminals in human words, pruned to what fits the context."""
        exp = set(expected)
        stack = self.stack
        top = stack[-1][0] if stack else "b"
        # LALR merges look-aheads of similar states: keep only the closer of the
        # innermost open bracket, and separators that make sense here.
        for closer, kind in (("RPAR", "p"), ("RSQB", "s")):
            if kind != top:
                exp.discard(closer)
        if top not in "bm" or not stack:
            exp.discard("RBRACE")
        if not stack:
            exp.discard("COMMA")
        if top not in "sm" and self.prev != "NAME":
            exp.discard("COLON")
        if top not in "b":
            exp.discard("SEP")
        words: list[str] = []
        tail: list[str] = []
        if "LET" in exp and "IF" in exp:
            tail.append("a statement")
            exp -= _STMT_START
        elif "INT" in exp and "STRING" in exp:
            tail.append("an expression")
            exp -= _EXPR_START
        elif "FN" in exp and "NAME" in exp:
            tail.append("a type")
            exp -= _TYPE_START
        if len(exp) > 1:
            exp.discard("FAT_ARROW")  # `name =>` (a lambda) is possible after most names: noise
        if "EQUAL" in exp:
            exp -= _AUGMENTED  # `=` stands for every assignment operator
        ops = exp & _BINARY_OPS
        if len(ops) >= 3:
            exp -= ops
            exp -= {"DOT", "LPAR", "LSQB"}  # postfix `.`, call, index: also "an operator"
            op_word = "an operator"
        else:
            op_word = ""
        inv = {v: k for k, v in self.T.items()}
        for name in _WORD_ORDER:
            if name in exp:
                exp.discard(name)
                words.append(_SPECIAL_WORDS.get(name) or f"'{inv.get(name, name)}'")
        for name in sorted(exp - {"SEP", "$END", "NAME", "INT", "FLOAT", "STRING"}):
            w = _SPECIAL_WORDS.get(name) or f"'{inv.get(name, name)}'"
            if w not in words:
                words.append(w)
        for name in ("NAME", "INT", "STRING"):
            if name in exp and _SPECIAL_WORDS[name] not in words:
                words.append(_SPECIAL_WORDS[name])
        words = words[:5] + tail
        if "SEP" in exp:
            words.append("a newline")
        if op_word:
            words.append(op_word)
        if "$END" in exp:
            words.append("'}'" if self.fragment else "end of input")
        return _join_words(words)

    def _hint(self, tok: Any, expected: set[str]) -> str | None:
        t = tok.type
        v = tok.text
        if t == "EQUAL" and "EQEQ" in expected:
            return "use `==` to compare values; `=` is assignment"
        if t in _COMPARISONS and "AND" in expected:
            return "comparisons cannot be chained: write `a < b and b < c`"
        if t == "NAME" and v in _NAME_FIXES:
            return _NAME_FIXES[v]
        vs = self.vst
        last = vs[-1] if vs else None
        last_name = last.id if isinstance(last, ast.Name) else (
            last.text if isinstance(last, _Raw) and last.type == "NAME" else None)
        if last_name in _NAME_FIXES:
            return _NAME_FIXES[last_name]
        if t == "$END" and self.stack:
            kind, r = self.stack[-1]
            return f"the '{r.text}' opened at line {r.line}, column {r.col} is never closed"
        if t == "RBRACE" and not self.closed_block and not any(k in "bm" for k, _ in self.stack):
            return "this '}' does not close any '{'"
        if self.stack and self.cur_bol and self.stack[-1][0] in "psm":
            kind, r = self.stack[-1]
            if r.line < tok.line:
                return f"the '{r.text}' opened at line {r.line}, column {r.col} is never closed"
        if t == "FN" and "FN" not in expected:
            return ("functions are declared at the top level or inside a struct; "
                    "use a lambda `(x: int) => ...` for a local function")
        if "BLOCK_OPEN" in expected and "LET" not in expected and t != "BLOCK_OPEN":
            kw = None
            for val in reversed(self.vst):
                if isinstance(val, _Raw) and val.type in _BLOCK_KEYWORDS:
                    kw = _BLOCK_KEYWORDS[val.type]
                    break
            if kw is not None:
                nxt = self.raws[self.i] if self.i < self.n else None
                if t == "SEP" and nxt is not None and nxt.kind == "{":
                    return f"put the `{{` on the same line as the `{kw}`"
                return f"the body of `{kw}` is a block in braces: `{{ ... }}`, even for one statement"
        if t == "$END" and self.stack:
            kind, r = self.stack[-1]
            return f"the '{r.text}' opened at line {r.line}, column {r.col} is never closed"
        if t == "SEP" and tok.text == "\n" and ("INT" in expected and "STRING" in expected):
            return ("a statement ends at the end of a line; to continue an expression on the next "
                    "line, wrap it in parentheses")
        if t == "SEP" and expected == {"EQUAL"}:
            return "a declaration needs a value: `let x: int = 0`"
        if t == "RPAR" and "INT" in expected and self._last_fed_type() in ("LPAR", "COMMA"):
            if self._last_fed_type() == "LPAR":
                return "`()` is not a value: use `none`, or `() => ...` for a lambda without parameters"
            return "a tuple needs at least two items; `(x)` is just `x`"
        return None

    def _last_fed_type(self) -> str | None:
        vs = self.vst
        if vs and isinstance(vs[-1], _Raw):
            return vs[-1].type
        return None

    def _report(self, tok: Any, expected: set[str]) -> None:
        ident = (tok.pos, tok.type)
        self.prev_err = self.last_err
        self.last_err = ident
        if ident == self.prev_err:
            return  # the same token failing again after a restart: already reported
        msg = f"unexpected {self._describe(tok)}"
        words = self._expected_words(expected)
        if words:
            msg += f" — expected {words}"
        line, col = tok.line, tok.col
        end_line, end_col = tok.end_line, tok.end_col
        if tok.type == "$END" or end_line is None:
            end_line, end_col = line, col + 1
        self.ctx.error("E0001", msg, self.ctx.span(line, col, end_line, max(end_col, col + 1)),
                       self._hint(tok, expected))


def _eof_position(src: str, end: int, line: int, line_start: int, start: int) -> tuple[int, int, int]:
    line += src.count("\n", start, end)
    nl = src.rfind("\n", start, end)
    ls = nl + 1 if nl >= 0 else line_start
    return (end, line, end - ls + 1)


def _parse_range(ctx: _Ctx, pos: int, end: int, line: int, line_start: int, start: str,
                 fragment: bool = False) -> Any:
    raws = _Lexer(ctx, pos, end, line, line_start).tokens()
    driver = _Driver(ctx, raws, start, _eof_position(ctx.src, end, line, line_start, pos), fragment)
    return driver.run()


def _parse_fragment(ctx: _Ctx, pos: int, end: int, line: int, line_start: int) -> Any:
    """Parse the expression of a string interpolation at its place in the file."""
    if ctx.interp_depth >= MAX_INTERP_DEPTH:
        ctx.error("E0001", "string interpolation nested too deeply",
                  ctx.span(line, pos - line_start + 1, line, end - line_start + 1))
        if ctx.aborted:
            raise _Abort()
        return None
    ctx.interp_depth += 1
    try:
        return _parse_range(ctx, pos, end, line, line_start, "expression", fragment=True)
    finally:
        ctx.interp_depth -= 1


# =========================================================================
# AST builder: called by Lark at each reduction
# =========================================================================

def _is_tok(x: Any) -> bool:
    return type(x) is _Raw


def _span(a: Any, b: Any) -> Span:
    """From the start of `a` to the end of `b` (tokens or nodes)."""
    if type(a) is _Raw:
        l1, c1 = a.line, a.col
    else:
        sp = a.span
        l1, c1 = sp.line, sp.col
    if type(b) is _Raw:
        return Span(_TLS.ctx.file, l1, c1, b.end_line, b.end_col)
    sp = b.span
    return Span(_TLS.ctx.file, l1, c1, sp.end_line, sp.end_col)


class _Named:
    """An intermediate value with a span (dotted names, attributes, import names)."""

    __slots__ = ("name", "alias", "span")

    def __init__(self, name: str, alias: str | None, span: Span) -> None:
        self.name = name
        self.alias = alias
        self.span = span


class _Attribute(_Named):
    __slots__ = ()


def _nodes(children: list) -> list:
    return [c for c in children if not _is_tok(c)]


_ASSIGN_TARGET_WORDS = {
    "Call": "a function call", "Binary": "an operator expression", "Unary": "an operator expression",
    "IntLit": "a literal", "FloatLit": "a literal", "StrLit": "a literal", "InterpStr": "a literal",
    "BoolLit": "a literal", "NoneLit": "a literal", "ListLit": "a list literal", "MapLit": "a map literal",
    "TupleLit": "a tuple", "Slice": "a slice", "Range": "a range", "Ternary": "a conditional expression",
    "Lambda": "a lambda",
}


def _int_value(text: str) -> int:
    text = text.replace("_", "")
    try:
        return int(text, 0 if text[:2].lower() in ("0x", "0b", "0o") else 10)
    except ValueError:  # already reported by the lexer
        return 0


class _Builder:
    """Lark callbacks (one per grammar rule or alias) building AST nodes."""

    # ------------------------------------------------------------ top level

    def start(self, c: list) -> ast.Module:
        ctx = _TLS.ctx
        header = None
        items: list = []
        first = True
        for x in c:
            if _is_tok(x):
                continue
            if isinstance(x, ast.ModuleHeader):
                if first:
                    header = x
                else:
                    ctx.error("E0005", "the module header must be the first line of the file", x.span,
                              "move `module ...` above every import and declaration")
            else:
                if isinstance(x, ast.FnDecl) and x.params and x.params[0].name == "self" \
                        and x.params[0].type is None:
                    ctx.error("E0005", "`self` parameter outside a struct", x.params[0].span,
                              "methods are declared inside `struct Name { ... }`")
                items.append(x)
            first = False
        return ast.Module(header, items, ctx.file)

    def expression(self, c: list) -> Any:
        return c[0]

    def module_header(self, c: list) -> ast.ModuleHeader:
        name = c[1]
        version = None
        if len(c) > 2:
            version = self._plain_string(c[3], "a module version")
        return ast.ModuleHeader(name.name, version, _span(c[0], c[-1]))

    def dotted_name(self, c: list) -> _Named:
        return _Named(".".join(str(t) for t in c if t.type == "NAME"), None, _span(c[0], c[-1]))

    def import_stmt(self, c: list) -> ast.Import:
        alias = str(c[3]) if len(c) > 3 else None
        return ast.Import(c[1].name, alias, False, _span(c[0], c[-1]))

    def import_py(self, c: list) -> ast.Import:
        alias = str(c[4]) if len(c) > 4 else None
        return ast.Import(c[2].name, alias, True, _span(c[0], c[-1]))

    def from_import(self, c: list) -> ast.FromImport:
        named = [x for x in c[3:] if isinstance(x, _Named)]
        return ast.FromImport(c[1].name, [(x.name, x.alias) for x in named], _span(c[0], c[-1]),
                              [x.span for x in named])

    def import_name(self, c: list) -> _Named:
        return _Named(str(c[0]), str(c[2]) if len(c) > 2 else None, _span(c[0], c[-1]))

    def attribute(self, c: list) -> _Attribute:
        return _Attribute(str(c[1]), None, _span(c[0], c[1]))

    def param(self, c: list) -> ast.Param:
        return ast.Param(str(c[0]), c[2] if len(c) > 2 else None, _span(c[0], c[-1]))

    lparam = param

    def fn_decl(self, c: list) -> ast.FnDecl:
        ctx = _TLS.ctx
        attrs = []
        i = 0
        while not _is_tok(c[i]):
            attrs.append(c[i].name)
            i += 1
        fn_tok = c[i]
        name_tok = c[i + 1]
        params: list[ast.Param] = []
        ret = None
        j = i + 3
        while True:
            x = c[j]
            if _is_tok(x):
                if x.type == "RPAR":
                    break
            else:
                params.append(x)
            j += 1
        if _is_tok(c[j + 1]) and c[j + 1].type == "ARROW":
            ret = c[j + 2]
        for k, p in enumerate(params):
            if p.type is None and not (k == 0 and p.name == "self"):
                ctx.error("E0001", f"parameter `{p.name}` needs a type", p.span,
                          f"annotate it: `{p.name}: int` (only a method's first parameter `self` has none)")
        block = c[-1]
        name_span = Span(ctx.file, name_tok.line, name_tok.col, name_tok.end_line, name_tok.end_col)
        return ast.FnDecl(str(name_tok), params, ret, block, attrs, _span(fn_tok, block), name_span)

    bare_method = fn_decl

    def struct_decl(self, c: list) -> ast.StructDecl:
        fields = [x for x in c if isinstance(x, ast.Field)]
        methods = [x for x in c if isinstance(x, ast.FnDecl)]
        return ast.StructDecl(str(c[1]), fields, methods, _span(c[0], c[-1]))

    def field_decl(self, c: list) -> ast.Field:
        default = c[4] if len(c) > 4 else None
        return ast.Field(str(c[0]), c[2], default, _span(c[0], c[-1]))

    def test_decl(self, c: list) -> ast.TestDecl:
        return ast.TestDecl(self._plain_string(c[1], "a test name"), c[2], _span(c[0], c[-1]))

    def _plain_string(self, tok: Any, what: str) -> str:
        ctx = _TLS.ctx
        v = ctx.payloads.get(tok.pos, "")
        if isinstance(v, list):
            ctx.error("E0001", f"{what} cannot use string interpolation",
                      _span(tok, tok), r"write \{ and \} for literal braces")
            return "".join(p for p in v if isinstance(p, str))
        return v

    # ------------------------------------------------------------ statements

    def block(self, c: list) -> ast.Block:
        return ast.Block([x for x in c[1:-1] if not _is_tok(x)], _span(c[0], c[-1]))

    def let_stmt(self, c: list) -> ast.LetDecl:
        ty = c[3] if len(c) == 6 else None
        return ast.LetDecl(c[0].type == "VAR", c[1], ty, c[-1], _span(c[0], c[-1]))

    def const_stmt(self, c: list) -> ast.ConstDecl:
        ty = c[3] if len(c) == 6 else None
        return ast.ConstDecl(str(c[1]), ty, c[-1], _span(c[0], c[-1]))

    def assign_stmt(self, c: list) -> ast.Assign:
        target, op, value = c
        if not isinstance(target, (ast.Name, ast.Attribute, ast.Index)):
            what = _ASSIGN_TARGET_WORDS.get(type(target).__name__, "this expression")
            hint = "only a name, a field (`a.b`) or an index (`a[i]`) can be assigned"
            if isinstance(target, ast.TupleLit):
                hint += "; to unpack a tuple, declare: `let (a, b) = ...`"
            _TLS.ctx.error("E0001", f"cannot assign to {what}", target.span, hint)
        return ast.Assign(target, str(op), value, _span(target, value))

    def expr_stmt(self, c: list) -> ast.ExprStmt:
        return ast.ExprStmt(c[0], c[0].span)

    def if_stmt(self, c: list) -> ast.If:
        otherwise = c[4] if len(c) > 3 else None
        return ast.If(c[1], c[2], otherwise, _span(c[0], c[-1]))

    def while_stmt(self, c: list) -> ast.While:
        return ast.While(c[1], c[2], _span(c[0], c[-1]))

    def for_stmt(self, c: list) -> ast.For:
        return ast.For(c[1], c[3], c[4], _span(c[0], c[-1]))

    def break_stmt(self, c: list) -> ast.Break:
        return ast.Break(_span(c[0], c[0]))

    def continue_stmt(self, c: list) -> ast.Continue:
        return ast.Continue(_span(c[0], c[0]))

    def return_stmt(self, c: list) -> ast.Return:
        return ast.Return(c[1] if len(c) > 1 else None, _span(c[0], c[-1]))

    def throw_stmt(self, c: list) -> ast.Throw:
        return ast.Throw(c[1], _span(c[0], c[-1]))

    def try_stmt(self, c: list) -> ast.Try:
        name = str(c[3]) if len(c) == 5 else None
        return ast.Try(c[1], name, c[-1], _span(c[0], c[-1]))

    def assert_stmt(self, c: list) -> ast.Assert:
        return ast.Assert(c[1], c[3] if len(c) > 3 else None, _span(c[0], c[-1]))

    def name_pattern(self, c: list) -> ast.NamePattern:
        return ast.NamePattern(str(c[0]), _span(c[0], c[0]))

    def tuple_pattern(self, c: list) -> ast.TuplePattern:
        return ast.TuplePattern(_nodes(c), _span(c[0], c[-1]))

    # ------------------------------------------------------------ expressions

    def lambda_(self, c: list) -> ast.Lambda:
        body = c[-1]
        if c[0].type == "NAME":
            params = [ast.Param(str(c[0]), None, _span(c[0], c[0]))]
        else:
            params = [x for x in c[1:-1] if isinstance(x, ast.Param)]
        return ast.Lambda(params, body, _span(c[0], body))

    def ternary(self, c: list) -> ast.Ternary:
        return ast.Ternary(c[2], c[0], c[4], _span(c[0], c[4]))

    def binop(self, c: list) -> ast.Binary:
        left, op, right = c
        return ast.Binary(str(op), left, right, _span(left, right))

    def compare(self, c: list) -> ast.Binary:
        left, right = c[0], c[-1]
        op = "not in" if len(c) == 4 else str(c[1])
        return ast.Binary(op, left, right, _span(left, right))

    def unop(self, c: list) -> Any:
        op, operand = c
        sop = str(op)
        if sop == "-" and isinstance(operand, ast.IntLit) and operand.value == _INT_MAX + 1:
            key = (operand.span.line, operand.span.col)
            if _TLS.ctx.overflow.pop(key, None) is not None:
                return ast.IntLit(-(_INT_MAX + 1), _span(op, operand))
        return ast.Unary(sop, operand, _span(op, operand))

    def range_ex(self, c: list) -> ast.Range:
        return ast.Range(c[0], c[2], False, _span(c[0], c[2]))

    def range_in(self, c: list) -> ast.Range:
        return ast.Range(c[0], c[2], True, _span(c[0], c[2]))

    def call(self, c: list) -> ast.Call:
        args = [x for x in c[2:-1] if isinstance(x, ast.Arg)]
        seen_named = False
        for a in args:
            if a.name is not None:
                seen_named = True
            elif seen_named:
                _TLS.ctx.error("E0001", "positional argument after a named argument", a.span,
                               "put positional arguments first: `f(1, 2, name: v)`")
                break
        return ast.Call(c[0], args, _span(c[0], c[-1]))

    def index(self, c: list) -> ast.Index:
        return ast.Index(c[0], [x for x in c[2:-1] if not _is_tok(x)], _span(c[0], c[-1]))

    def slice(self, c: list) -> ast.Slice:
        colon = next(i for i in range(2, len(c)) if _is_tok(c[i]) and c[i].type == "COLON")
        lo = c[2] if colon == 3 else None
        hi = c[colon + 1] if colon + 2 < len(c) else None
        return ast.Slice(c[0], lo, hi, _span(c[0], c[-1]))

    def attr(self, c: list) -> ast.Attribute:
        name = c[2]
        return ast.Attribute(c[0], str(name), _span(c[0], name), _span(name, name))

    def pos_arg(self, c: list) -> ast.Arg:
        return ast.Arg(None, c[0], c[0].span)

    def named_arg(self, c: list) -> ast.Arg:
        return ast.Arg(str(c[0]), c[2], _span(c[0], c[2]))

    def name(self, c: list) -> ast.Name:
        return ast.Name(str(c[0]), _span(c[0], c[0]))

    def int_lit(self, c: list) -> ast.IntLit:
        t = c[0]
        value = _int_value(t.text)
        sp = _span(t, t)
        if value > _INT_MAX:
            _TLS.ctx.overflow[(sp.line, sp.col)] = (sp, str(t))
        return ast.IntLit(value, sp)

    def float_lit(self, c: list) -> ast.FloatLit:
        t = c[0]
        try:
            value = float(str(t).replace("_", ""))
        except ValueError:  # already reported by the lexer
            value = 0.0
        return ast.FloatLit(value, _span(t, t))

    def string(self, c: list) -> Any:
        t = c[0]
        v = _TLS.ctx.payloads.get(t.pos, "")
        if isinstance(v, list):
            return ast.InterpStr(v, _span(t, t))
        return ast.StrLit(v, _span(t, t))

    def true_lit(self, c: list) -> ast.BoolLit:
        return ast.BoolLit(True, _span(c[0], c[0]))

    def false_lit(self, c: list) -> ast.BoolLit:
        return ast.BoolLit(False, _span(c[0], c[0]))

    def none_lit(self, c: list) -> ast.NoneLit:
        return ast.NoneLit(_span(c[0], c[0]))

    def paren(self, c: list) -> Any:
        return c[1]

    def tuple_lit(self, c: list) -> ast.TupleLit:
        return ast.TupleLit(_nodes(c), _span(c[0], c[-1]))

    def list_lit(self, c: list) -> ast.ListLit:
        return ast.ListLit(_nodes(c), _span(c[0], c[-1]))

    def map_lit(self, c: list) -> ast.MapLit:
        return ast.MapLit([x for x in c if isinstance(x, tuple)], _span(c[0], c[-1]))

    def map_item(self, c: list) -> tuple:
        return (c[0], c[2])

    # ------------------------------------------------------------ types

    def type_name(self, c: list) -> ast.TypeName:
        first = c[0]
        if _is_tok(first):  # `none`
            return ast.TypeName("none", [], _span(first, first))
        args: list = []
        for x in c[2:-1]:
            if _is_tok(x):
                if x.type == "INT":
                    args.append(_int_value(x.text))
            else:
                args.append(x)
        return ast.TypeName(first.name, args, _span(first, c[-1]))

    def tuple_type(self, c: list) -> Any:
        items = _nodes(c)
        if len(items) == 1:
            if len(c) == 3:
                return items[0]  # `(int)` is just `int`
            _TLS.ctx.error("E0001", "a tuple type needs at least two items", _span(c[0], c[-1]))
        return ast.TupleType(items, _span(c[0], c[-1]))

    def fn_type(self, c: list) -> ast.FnType:
        # nested types are nodes, so the only `)` token is the one closing the parameters
        rpar = next(i for i, x in enumerate(c) if _is_tok(x) and x.type == "RPAR")
        params = [x for x in c[2:rpar] if not _is_tok(x)]
        if rpar + 1 < len(c):
            ret = c[-1]
            sp = _span(c[0], ret)
        else:
            ret = ast.TypeName("none", [], _span(c[rpar], c[rpar]))
            sp = _span(c[0], c[rpar])
        return ast.FnType(params, ret, sp)


_BUILDER = _Builder()


# =========================================================================
# Depth check (later passes recurse over the tree)
# =========================================================================

_SKIP_FIELDS = frozenset({"span", "name_span"})
_FIELDS_CACHE: dict[type, tuple[str, ...]] = {}


def _too_deep(root: Any) -> Any:
    """The first node nested deeper than MAX_NESTING, or None (iterative walk)."""
    stack = [(root, 0)]
    cache = _FIELDS_CACHE
    while stack:
        node, d = stack.pop()
        if d > MAX_NESTING:
            return node
        cls = type(node)
        names = cache.get(cls)
        if names is None:
            names = tuple(n for n in getattr(cls, "__slots__", ()) if n not in _SKIP_FIELDS)
            cache[cls] = names
        d += 1
        for n in names:
            v = getattr(node, n)
            if v is None or isinstance(v, (str, int, float, bool)):
                continue
            if isinstance(v, (list, tuple)):
                for item in v:
                    if isinstance(item, tuple):
                        for sub in item:
                            if hasattr(sub, "span"):
                                stack.append((sub, d))
                    elif hasattr(item, "span"):
                        stack.append((item, d))
            elif hasattr(v, "span"):
                stack.append((v, d))
    return None


# =========================================================================
# Public API
# =========================================================================

def _run(source: Any, file: str, start: str) -> Any:
    if isinstance(source, (bytes, bytearray)):
        source = bytes(source).decode("utf-8", errors="replace")
    elif not isinstance(source, str):
        source = str(source)
    ctx = _Ctx(file, source)
    saved = getattr(_TLS, "ctx", None)
    _TLS.ctx = ctx
    result = None
    try:
        try:
            result = _parse_range(ctx, 0, len(source), 1, 0, start)
        except _Abort:
            result = None
        for sp, text in ctx.overflow.values():
            ctx.error("E0004", f"integer literal {text[:40]} is out of the 64-bit range", sp,
                      "the largest int is 9223372036854775807; use a float for bigger values")
        if result is not None and not ctx.bag.has_errors:
            deep = _too_deep(result)
            if deep is not None:
                ctx.error("E0001", f"program nested too deeply (more than {MAX_NESTING} levels)",
                          getattr(deep, "span", Span(file, 1, 1, 1, 2)),
                          "split the expression or the block into smaller parts")
    except RecursionError:
        ctx.bag.items.append(_internal(ctx, "program nested too deeply"))
    except CompileError:  # pragma: no cover
        raise
    except Exception as exc:  # a parser bug must still surface as a diagnostic
        ctx.bag.items.append(_internal(ctx, f"internal parser error: {type(exc).__name__}: {exc}"))
    finally:
        _TLS.ctx = saved
    if ctx.bag.has_errors or result is None:
        if not ctx.bag.items:  # pragma: no cover - defensive
            ctx.bag.items.append(_internal(ctx, "internal parser error: no result"))
        seen = set()
        unique = []
        for d in ctx.bag.items:
            key = (d.code, d.span.line, d.span.col, d.message)
            if key not in seen:
                seen.add(key)
                unique.append(d)
        ctx.bag.items = unique[:MAX_ERRORS]
        ctx.bag.raise_if_errors({file: source})
    return result


def _internal(ctx: _Ctx, message: str) -> Any:
    from noodle.compiler.diagnostics import Diagnostic

    return Diagnostic("E0001", message, Span(ctx.file, 1, 1, 1, 2))


def parse(source: str, file: str = "<input>") -> ast.Module:
    """Parse one Noodle source file.

    Returns the module's AST; raises :class:`CompileError` carrying every
    diagnostic found (up to :data:`MAX_ERRORS`) when the text is not a valid
    program.  Never raises anything else.
    """
    return _run(source, file, "start")


def parse_expression(source: str, file: str = "<input>") -> ast.Expr:
    """Parse a single expression (surrounding blank lines and comments allowed)."""
    return _run(source, file, "expression")
