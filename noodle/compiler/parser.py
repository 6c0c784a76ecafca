"""The Noodle parser: source text -> :class:`noodle.compiler.ast.Module`.

Public API::

    parse(source, file="<input>") -> ast.Module          # raises CompileError
    parse_expression(source, file="<input>") -> ast.Expr # for the REPL's `:type EXPR`

Both raise :class:`~noodle.compiler.diagnostics.CompileError` (and nothing
else) on bad input; every diagnostic has a code (E0001-E0005) and a span.

How it works
------------
1. A hand-written lexer (:mod:`noodle.compiler.lexer`) turns the text into raw tokens.  It
   drops comments (deciding for every `//` whether it is the floor-division
   operator or a comment, see :meth:`SourceLexer._slash_slash_is_operator`),
   decodes strings (escapes, `{expr}` interpolation, whose expressions are
   parsed at once with the expression grammar at their real line/column),
   validates numbers and reports invalid characters.
2. A post-lexer (:mod:`noodle.compiler.lalr`) keeps a bracket stack and feeds the tokens
   one by one to Lark's LALR parser (grammar: ``noodle/grammar/noodle.lark``):
   it turns significant newlines and `;` into SEP, decides whether `{` opens
   a block or a map literal, marks the `(` of lambda parameter lists, splits
   `>>`/`>=` that close generic type arguments, and recovers from syntax
   errors (several diagnostics per run).
3. Lark calls the builder's methods (:mod:`noodle.compiler.ast_builder`) at each reduction, which build the
   AST nodes directly (no intermediate parse tree) with accurate spans.

The Lark parser is built once per process, lazily, and its analysed tables
are cached on disk (``$NOODLE_CACHE_DIR`` or ``$XDG_CACHE_HOME/noodle`` or
``~/.cache/noodle``; a temporary directory, or no cache, when those are not
writable).
"""
from __future__ import annotations

import re
from typing import Any

from noodle.compiler import ast
from noodle.compiler.ast_builder import too_deep
from noodle.compiler.ast import Span
from noodle.compiler.diagnostics import CompileError
from noodle.compiler.lalr import parse_range
from noodle.compiler.parse_state import CURRENT, KEYWORDS, MAX_ERRORS, MAX_NESTING, ParseAborted, ParseContext

__all__ = ["parse", "parse_expression", "KEYWORDS", "MAX_ERRORS", "MAX_NESTING"]


# =========================================================================
# Public API
# =========================================================================

_SURROGATE = re.compile("[\ud800-\udfff]")


def _run(source: Any, file: str, start: str, first_line: int = 1) -> Any:
    if isinstance(source, (bytes, bytearray)):
        source = bytes(source).decode("utf-8", errors="replace")
    elif not isinstance(source, str):
        source = str(source)
    surrogates = [m.start() for m in _SURROGATE.finditer(source)]
    if surrogates:  # not text UTF-8 can hold (a str made from bad bytes): reported, then read as U+FFFD
        original = source
        source = _SURROGATE.sub("\ufffd", source)
    ctx = ParseContext(file, source)
    for pos in surrogates:
        line = original.count("\n", 0, pos) + 1
        col = pos - (original.rfind("\n", 0, pos) + 1) + 1
        ctx.error("E0002", f"invalid character U+{ord(original[pos]):04X} (a lone surrogate, which is not text)",
                  Span(file, line, col, line, col + 1), "the source must be valid Unicode text (UTF-8 in a file)")
    saved = getattr(CURRENT, "ctx", None)
    CURRENT.ctx = ctx
    result = None
    try:
        try:
            result = parse_range(ctx, 0, len(source), first_line, 0, start)
        except ParseAborted:
            result = None
        for sp, text in ctx.overflow.values():
            ctx.error("E0004", f"integer literal {text[:40]} is out of the 64-bit range", sp,
                      "the largest int is 9223372036854775807; use a float for bigger values")
        if result is not None and not ctx.bag.has_errors:
            deep, depth = too_deep(result)
            if isinstance(result, ast.Module):
                result.deepest = depth
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
        CURRENT.ctx = saved
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
        ctx.bag.items = [_at_unclosed_bracket(d, source) for d in unique[:MAX_ERRORS]]
        ctx.bag.raise_if_errors({file: source})
    return result


_PAIRS = {"{": "}", "(": ")", "[": "]"}


def _at_unclosed_bracket(d: Any, source: str) -> Any:
    """"unexpected end of input" where a bracket is still open: reported at that bracket (the input's
    end is a note), since the bracket is where the mistake is."""
    from noodle.compiler.diagnostics import Diagnostic
    from noodle.compiler.lexer import SourceLexer

    if not d.message.startswith("unexpected end of input"):
        return d
    ctx = ParseContext(d.span.file, source)
    saved = getattr(CURRENT, "ctx", None)
    CURRENT.ctx = ctx
    try:
        tokens = SourceLexer(ctx, 0, len(source), 1, 0).tokens()
    except Exception:  # noqa: BLE001 - the original diagnostic stands
        return d
    finally:
        CURRENT.ctx = saved
    lines = source.split("\n")

    def indent(line: int) -> int:
        text = lines[line - 1] if 1 <= line <= len(lines) else ""
        return len(text) - len(text.lstrip(" \t"))

    stack: list[Any] = []
    culprit = None
    for t in tokens:
        if t.kind in _PAIRS:
            stack.append(t)
        elif t.kind in _PAIRS.values() and stack:
            # a `}` alone at the start of its line closes the brace of the line indented like it: the
            # braces opened above that one (on deeper lines) are the ones never closed
            if t.kind == "}" and t.bol:
                for k in range(len(stack) - 1, -1, -1):
                    if stack[k].kind == "{" and indent(stack[k].line) == indent(t.line):
                        if k < len(stack) - 1 and culprit is None:
                            culprit = stack[k + 1]
                        del stack[k + 1:]
                        break
            if stack and _PAIRS[stack[-1].kind] == t.kind:
                stack.pop()
    if not stack and culprit is None:
        return d
    t = culprit if culprit is not None else stack[-1]
    span = Span(d.span.file, t.line, t.col, t.line, t.col + 1)
    return Diagnostic(d.code, f"`{t.kind}` is never closed", span,
                      f"add the `{_PAIRS[t.kind]}` that closes it", [],
                      "error", [(d.span, d.message)])


def _internal(ctx: ParseContext, message: str) -> Any:
    from noodle.compiler.diagnostics import Diagnostic

    return Diagnostic("E0001", message, Span(ctx.file, 1, 1, 1, 2))


def parse(source: str, file: str = "<input>", first_line: int = 1) -> ast.Module:
    """Parse one Noodle source file.

    Returns the module's AST; raises :class:`CompileError` carrying every
    diagnostic found (up to :data:`MAX_ERRORS`) when the text is not a valid
    program.  Never raises anything else.  `first_line`: the line number the
    text starts at (the REPL gives each entry lines of its own in the session).
    """
    return _run(source, file, "start", first_line)


def parse_expression(source: str, file: str = "<input>") -> ast.Expr:
    """Parse a single expression (surrounding blank lines and comments allowed)."""
    return _run(source, file, "expression")
