"""Feeding Lark's LALR tables: the post-lexer, the parse loop and error recovery.

Lark is used only to analyse ``noodle/grammar/noodle.lark`` into LALR tables, built once per process,
lazily, and cached on disk (``$NOODLE_CACHE_DIR`` or ``$XDG_CACHE_HOME/noodle`` or
``~/.cache/noodle``; a temporary directory, or no cache, when those are not writable).
The driver (:class:`_Driver`) keeps a bracket stack and feeds the lexer's tokens one by one to the
tables: it turns significant newlines and `;` into SEP, decides whether `{` opens a block or a map
literal, marks the `(` of lambda parameter lists, splits `>>`/`>=` that close generic type
arguments, and recovers from syntax errors (several diagnostics per run).  Lark calls the AST
builder (:mod:`noodle.compiler.ast_builder`) at each reduction.
"""
from __future__ import annotations

import os
import sys
import threading
from typing import Any

from noodle.compiler import ast
from noodle.compiler.lexer import STMT_KEYWORDS, RawToken, SourceLexer
from noodle.compiler.parse_state import (CONTEXTUAL_KEYWORDS, KEYWORDS, MAX_INTERP_DEPTH, MAX_NESTING, MAX_STACK,
                                         ParseAborted, ParseContext)
# =========================================================================
# Lark set-up (lazy, cached on disk)
# =========================================================================

_LARK: Any = None
TERMS: dict[str, str] = {}  # source text of a keyword/punctuation -> terminal name
LARK_LOCK = threading.Lock()


def cache_dir() -> str | None:
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


def get_lark() -> Any:
    global _LARK
    if _LARK is None:
        with LARK_LOCK:
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

    from noodle.compiler.ast_builder import BUILDER  # Lark calls it at each reduction

    grammar = grammar_text()
    options = dict(
        parser="lalr", lexer=NoodleNoLexer, start=["start", "expression"], keep_all_tokens=True,
        maybe_placeholders=False, transformer=BUILDER,
    )
    key = hashlib.sha256(
        "\0".join([grammar, lark.__version__, sys.version, "noodle-parser-1"]).encode()
    ).hexdigest()[:20]
    parser = None
    cdir = cache_dir()
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
            TERMS[t.pattern.value] = t.name
    return parser


NoodleNoLexer: Any = None


def _no_lex(self: Any, *args: Any) -> Any:  # pragma: no cover - never called
    raise NotImplementedError("noodle feeds tokens itself")


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
        lk = get_lark()
        with LARK_LOCK:
            if _TABLES is None:
                _TABLES = _Tables(lk)
    return _TABLES


class _Driver:
    """Post-lexer and LALR driver for one token range (a file or an interpolation)."""

    def __init__(self, ctx: ParseContext, raws: list[RawToken], start: str, eof: tuple[int, int, int],
                 fragment: bool = False) -> None:
        tables = _get_tables()
        self.fragment = fragment  # the expression of a string interpolation
        self.ctx = ctx
        self.raws = raws
        self.n = len(raws)
        self.i = 0
        self.T = TERMS
        self.table = tables.table
        self.terminals = tables.terminals
        self.end_state = tables.end_states[start]
        self.sst: list = [tables.start_states[start]]  # LALR state stack
        self.vst: list = []  # LALR value stack
        self.result: Any = None
        self.pre_stack: list = []  # state stack before the token that failed
        self.stack: list[tuple[str, RawToken]] = []  # brackets: ('p' | 's' | 'm' | 'b', opening token)
        self.prev: str | None = None  # type of the last token handed to the parser
        self.pending: RawToken | None = None  # a NEWLINE or `;` not yet emitted
        self.out: list[tuple[RawToken, bool]] = []  # tokens to hand out before reading more raws (LIFO)
        self.skipping = False
        self.closed_block = False
        self.cur_bol = False
        self.cur_kind: str | None = None
        pos, line, col = eof
        self.eof = RawToken("$END", "", line, col, line, col + 1, pos, pos, False)
        self.eof.type = "$END"
        self.cps: list[tuple[list, list, list, str | None]] = [self._checkpoint()]
        self.last_err: tuple[int, str] | None = None
        self.prev_err: tuple[int, str] | None = None

    # ---------------------------------------------------------------- tokens

    def next(self) -> RawToken:
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

    def _convert(self, r: RawToken) -> None:
        """Set the terminal type of a raw token, keeping the bracket stack."""
        k = r.kind
        stack = self.stack
        if k in ("NAME", "INT", "FLOAT", "STRING"):
            r.type = k
        elif k in KEYWORDS:
            # after `.`, a keyword is an ordinary field/module name (`obj.test`); `py` and `version`
            # are keywords only where the grammar can take them (`import py ...`, a module header),
            # so `let (px, py) = p` and `var version = 2` read as programmers expect
            if self.prev == "DOT" or (k in CONTEXTUAL_KEYWORDS and not self._accepts(self.T[k])):
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
            second = RawToken(k[1], k[1], r.line, r.col + 1, r.end_line, r.end_col, r.pos + 1, r.end, False)
            second.type = "MORETHAN" if k == ">>" else "EQUAL"
            self.out.append((second, False))
            r.end_col, r.end = r.col + 1, r.pos + 1
        else:
            r.type = self.T[k]

    def _push(self, kind: str, r: RawToken) -> None:
        self.stack.append((kind, r))
        if len(self.stack) > MAX_NESTING:
            self.ctx.error("E0001", f"program nested too deeply (more than {MAX_NESTING} levels of brackets)",
                           self.ctx.span(r.line, r.col, r.end_line, r.end_col),
                           "split the expression or the block into smaller parts")
            raise ParseAborted()

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

    def _feed(self, tok: RawToken) -> bool:
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
            if len(self.sst) > MAX_STACK:
                ctx.error("E0001", f"program nested too deeply (more than {MAX_NESTING} levels)",
                          ctx.span(tok.line, tok.col, tok.end_line, tok.end_col),
                          "split the expression or the block into smaller parts")
                raise ParseAborted()
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

    def _recover(self, tok: RawToken) -> bool:
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
                    and self.cur_kind in STMT_KEYWORDS and not self.out):
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

    def _describe(self, tok: RawToken) -> str:
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
            last.text if isinstance(last, RawToken) and last.type == "NAME" else None)
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
                if isinstance(val, RawToken) and val.type in _BLOCK_KEYWORDS:
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
        if self.cur_bol and (t in _BINARY_OPS or t == "DOT") and t not in ("MINUS", "NOT", "IF") \
                and "LET" in expected:  # `    * 2.0` under `let t = a`: meant as the line above's continuation
            rest = ".f())" if t == "DOT" else f"{tok.text} b)"
            return (f"a statement ends at the end of its line, so this one cannot start with `{tok.text}`; to "
                    f"continue the expression of the line above, wrap it in parentheses: `x = (a` / `    {rest}`")
        if t == "RPAR" and "INT" in expected and self._last_fed_type() in ("LPAR", "COMMA"):
            if self._last_fed_type() == "LPAR":
                return "`()` is not a value: use `none`, or `() => ...` for a lambda without parameters"
            return "a tuple needs at least two items; `(x)` is just `x`"
        return None

    def _last_fed_type(self) -> str | None:
        vs = self.vst
        if vs and isinstance(vs[-1], RawToken):
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


def parse_range(ctx: ParseContext, pos: int, end: int, line: int, line_start: int, start: str,
                 fragment: bool = False) -> Any:
    raws = SourceLexer(ctx, pos, end, line, line_start).tokens()
    driver = _Driver(ctx, raws, start, _eof_position(ctx.src, end, line, line_start, pos), fragment)
    return driver.run()


def parse_fragment(ctx: ParseContext, pos: int, end: int, line: int, line_start: int) -> Any:
    """Parse the expression of a string interpolation at its place in the file."""
    if ctx.interp_depth >= MAX_INTERP_DEPTH:
        ctx.error("E0001", "string interpolation nested too deeply",
                  ctx.span(line, pos - line_start + 1, line, end - line_start + 1))
        if ctx.aborted:
            raise ParseAborted()
        return None
    ctx.interp_depth += 1
    try:
        return parse_range(ctx, pos, end, line, line_start, "expression", fragment=True)
    finally:
        ctx.interp_depth -= 1


