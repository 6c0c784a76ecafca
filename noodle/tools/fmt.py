"""The Noodle formatter (`noodle fmt`): one canonical layout for a source file.

It works on the compiler's own tokens (:class:`noodle.compiler.lexer.SourceLexer`), so it never
has to guess what a `//` is or where a string ends, and it keeps every comment where it was.
Like gofmt it keeps the programmer's line breaks (a newline can end a statement, so moving one
could change the program) and normalises everything else:

* indentation: four spaces per open bracket, brackets opened on one line sharing one level;
* spacing: one space around binary operators and after `,`, `;` and `:`, none inside `( )` and
  `[ ]`, before a call's or an index's bracket, after a unary sign, around `.` and `..`;
  where a token's role depends on what the parser makes of it (`<` `>` as comparison or as
  generic brackets, `:` inside `[ ]` as slice or map key, the inside of `{ }`) the original
  choice of space or no space is kept, so the result is still one fixed point;
* blank lines: at most one in a row, none at the start or end of a file or a block;
* trailing comments: two spaces before `//`, so they stay comments (see the `//` rule);
* no trailing whitespace, one final newline.

The result is checked before it is returned: it must lex to the same tokens as the input
(a formatter that changed a program would be worse than none), and only a file that parses is
formatted at all (:class:`FormatError` otherwise).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from noodle.compiler.lexer import RawToken, SourceLexer
from noodle.compiler.parse_state import CURRENT, KEYWORDS, ParseAborted, ParseContext
from noodle.compiler.parser import parse
from noodle.errors import CompileError

INDENT = "    "
#: the width `noodle fmt` breaks long lines at (`--width N`)
WIDTH = 100
COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?(?:\*/|\Z)", re.S)
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())
_OPERAND_END = frozenset({"NAME", "INT", "FLOAT", "STRING", ")", "]", "}", "true", "false", "none"})
_WORDS = frozenset({"NAME", "INT", "FLOAT", "STRING"}) | KEYWORDS
# operators whose spacing the parser's reading decides (generic brackets vs comparison/shift)
_AMBIGUOUS = frozenset({"<", ">", ">>"})
_SIGNS = frozenset({"-", "+"})


class FormatError(Exception):
    """The text cannot be formatted: it is not a valid program (the diagnostics say why)."""

    def __init__(self, message: str, diagnostics: list | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


@dataclass(slots=True)
class _Item:
    """One token or comment of a line, with the gap the source had before it."""

    text: str
    kind: str  # the token's kind, or "COMMENT"
    gap: str  # source text between the previous item on the line and this one
    token: RawToken | None = None


def source_tokens(source: str, file: str = "<input>") -> list[RawToken]:
    """The compiler's raw tokens of `source` (NL included, comments not); lexical errors are skipped."""
    ctx = ParseContext(file, source)
    saved = getattr(CURRENT, "ctx", None)
    CURRENT.ctx = ctx  # the lexer parses `{expr}` inside strings with the AST builder
    try:
        return SourceLexer(ctx, 0, len(source), 1, 0).tokens()
    except ParseAborted as e:  # pragma: no cover - parse() has already rejected such a text
        raise FormatError(f"{file}: the text does not lex", list(ctx.bag.items)) from e
    finally:
        CURRENT.ctx = saved


def _lines(source: str, tokens: list[RawToken]) -> list[list[_Item]]:
    """The source as lines of items (tokens and comments).

    Lines break at the newlines between tokens outside comments (strings never span lines); a
    block comment that spans lines is one item whose text keeps its newlines.
    """
    lines: list[list[_Item]] = [[]]

    def gap(start: int, stop: int) -> str:
        """Add the comments and line breaks of source[start:stop]; return the blank text left before stop."""
        last = start
        for m in COMMENT_RE.finditer(source, start, stop):
            before = source[last:m.start()]
            for _ in range(before.count("\n")):
                lines.append([])
            lines[-1].append(_Item(m.group().rstrip(), "COMMENT", before.rpartition("\n")[2]))
            last = m.end()
        rest = source[last:stop]
        for _ in range(rest.count("\n")):
            lines.append([])
        return rest.rpartition("\n")[2]

    cursor = 0
    for tok in tokens:
        if tok.kind == "NL":
            continue
        blank = gap(cursor, tok.pos)
        lines[-1].append(_Item(source[tok.pos:tok.end], tok.kind, blank, tok))
        cursor = tok.end
    gap(cursor, len(source))
    return lines


def _unary(prev: _Item | None) -> bool:
    """Whether a `-`/`+` after `prev` is a sign (no operand has just ended)."""
    return prev is None or prev.kind not in _OPERAND_END


def _space(prev: _Item, cur: _Item, pprev: _Item | None, inner: str | None) -> str:
    """The space between two items on one line; `inner` is the innermost open bracket."""
    a, b = prev.kind, cur.kind
    if b == "COMMENT":
        return "  " if cur.text.startswith("//") else " "
    if a == "COMMENT":
        return " "
    if a in _AMBIGUOUS or b in _AMBIGUOUS:
        return " " if cur.gap else ""
    if a in ("(", "[") or b in (")", "]", ",", ";", "."):
        return ""
    if a == "{" or b == "}":
        if a == "{" and b == "}":
            return ""
        return " " if cur.gap else ""
    if b == ":":
        return " " if inner == "[" and cur.gap else ""
    if a == ":":
        return " " if inner != "[" or cur.gap else ""
    if a in (",", ";"):
        return " "
    if a == "." or b in ("..", "..=") or a in ("..", "..="):
        return ""
    if a in _SIGNS and _unary(pprev):
        return " " if b in _SIGNS else ""  # `- -4`, not `--4`
    if a == "@" and (pprev is None or pprev.kind not in _OPERAND_END):
        return ""  # an attribute: `@no_optimize`
    if b in ("(", "["):
        if a in _OPERAND_END and a not in KEYWORDS or a in ("true", "false", "none"):
            return ""  # a call or an index
        if a == "fn":
            return ""  # a function type: `fn(int) -> int`
        return " "
    return " "


def _level(items: list[_Item], stack: list[tuple[str, int]]) -> int:
    """A line's indent: that of the line whose bracket a leading closer closes, else one past the
    innermost open bracket."""
    leading = 0
    while leading < len(items) and items[leading].kind in _CLOSERS:
        leading += 1
    if leading and len(stack) >= leading:
        return stack[-leading][1]
    return stack[-1][1] + 1 if stack else 0


def _render_line(items: list[_Item], stack: list[tuple[str, int]], level: int,
                 base: int | None = None) -> tuple[str, list[int]]:
    """The line's text (without its indent), and where each item ends in it; `stack` is updated
    with the brackets the line opens and closes.  `base`, for a line that continues a statement
    inside `( )` or `[ ]`: the statement's own level, which a block opened once those brackets
    are closed (`b: int) -> int {`) takes, so that its body and its `}` line up with the statement."""
    parts: list[str] = []
    ends: list[int] = []
    width = 0
    prev: _Item | None = None
    pprev: _Item | None = None
    for item in items:
        if prev is not None:
            space = _space(prev, item, pprev, stack[-1][0] if stack else None)
            parts.append(space)
            width += len(space)
        parts.append(item.text)
        width += len(item.text)
        ends.append(width)
        if item.kind in _OPENERS:
            statement_level = base is not None and item.kind == "{" and not (stack and stack[-1][0] in "([")
            stack.append((item.kind, base if statement_level else level))  # type: ignore[arg-type]
        elif item.kind in _CLOSERS and stack:
            stack.pop()
        pprev, prev = prev, item
    return "".join(parts), ends


def _render(lines: list[list[_Item]], width: int | None = None) -> str:
    out: list[str] = []
    stack: list[tuple[str, int]] = []  # open brackets: (kind, indent level of the line that opened it)
    blank = False
    todo = list(reversed(lines))  # a stack of lines; a line too long goes back as its pieces
    base = 0  # the level of the line the current statement starts on
    while todo:
        items = todo.pop()
        if not items:
            blank = True
            continue
        level = _level(items, stack)
        continued = bool(stack) and stack[-1][0] in "(["
        if not continued:
            base = level
        opens_block = bool(out) and out[-1].rstrip().endswith("{")
        if blank and out and not opens_block and items[0].kind != "}":
            out.append("")
        blank = False
        trial = list(stack)
        text, ends = _render_line(items, trial, level, base if continued else None)
        if width is not None and len(INDENT) * level + len(text) > width:
            at = _break_after(items, ends, stack, width - len(INDENT) * level)
            if at is not None:
                todo += [items[at + 1:], items[:at + 1]]
                continue
        stack[:] = trial
        out.append(INDENT * level + text)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n" if out else ""


#: binary operators a long line may break after, by how loosely they bind (a break prefers the
#: loosest: `a and b` before `x + y`); `<` `>` are left out (generic brackets or comparisons)
_BREAK_RANK = {",": 0, "(": 0, "[": 0, "or": 1, "and": 2, "==": 3, "!=": 3, "<=": 3, ">=": 3,
               "|": 4, "^": 4, "&": 4, "<<": 5, "+": 6, "-": 6, "*": 7, "/": 7, "//": 7, "%": 7, "@": 7, "**": 8}


def _break_after(items: list[_Item], ends: list[int], stack: list[tuple[str, int]], room: int) -> int | None:
    """Where to break a line too long for `room` columns: after the item with the shallowest
    bracket depth, then the loosest operator, then the rightmost, among those whose first piece
    fits (else the first place there is).  A line breaks only where a newline means nothing:
    inside `( )` or `[ ]` (not inside a `{ }` nested in them), never before a comment and never
    in a line holding a multi-line comment, nor between two brackets opened together.  None when
    there is no such place."""
    if any(item.kind == "COMMENT" and "\n" in item.text for item in items):
        return None
    open_kinds = [kind for kind, _ in stack]
    depth0 = len(open_kinds)
    candidates: list[tuple[int, int, int]] = []  # (depth, rank, index)
    prev: _Item | None = None
    for i, item in enumerate(items):
        if item.kind in _OPENERS:
            open_kinds.append(item.kind)
        elif item.kind in _CLOSERS and open_kinds:
            open_kinds.pop()
        rank = _BREAK_RANK.get(item.kind)
        if item.kind in _SIGNS and _unary(prev):
            rank = None  # a sign, not an operator
        elif item.kind in _OPENERS and i + 1 < len(items) and items[i + 1].kind in _OPENERS:
            rank = None  # brackets opened together stay together: `f([` breaks inside the `[`
        if (rank is not None and i + 1 < len(items) and items[i + 1].kind != "COMMENT"
                and items[i + 1].kind not in _CLOSERS and open_kinds and open_kinds[-1] in ("(", "[")):
            candidates.append((len(open_kinds) - depth0, rank, i))
        prev = item
    if not candidates:
        return None
    fitting = [c for c in candidates if ends[c[2]] <= room]
    if not fitting:
        return candidates[0][2]
    best = min(fitting, key=lambda c: (c[0], c[1], -c[2]))
    return best[2]


def _signature(tokens: list[RawToken], source: str) -> list[tuple[str, str]]:
    return [(t.kind, source[t.pos:t.end]) for t in tokens if t.kind != "NL"]


def format_source(source: str, file: str = "<input>", width: int | None = WIDTH) -> str:
    """The canonical layout of `source`, its lines broken to fit `width` columns where they can be
    (None: never).  Raises :class:`FormatError` for a text that does not parse."""
    try:
        parse(source, file)
    except CompileError as e:
        raise FormatError(f"{file}: not formatted, the program has errors", list(e.diagnostics)) from e
    tokens = source_tokens(source, file)
    result = _render(_lines(source, tokens), width)
    if _signature(source_tokens(result, file), result) != _signature(tokens, source):
        raise FormatError(f"{file}: internal formatter error: the layout would change the program's "
                          "tokens; the file was left as it is (please report it)")
    return result


def format_files(files: list[str], check: bool, out=None, err=None,  # noqa: ANN001 - text streams
                 width: int | None = WIDTH) -> int:
    """`noodle fmt [--check] [--width N] FILES`: rewrite each file in its canonical layout, lines
    broken at `width` (or, with `check`, only list the files not in it).  `-` is standard input,
    formatted to standard output.

    Exit status: 0 all formatted (or, with `check`, all already canonical); 1 with `check`, some file
    would change; 2 a file that does not parse (its diagnostics are printed, the file is untouched);
    66 a file that cannot be opened.
    """
    import sys

    from noodle.tools.render import print_diagnostics
    from noodle.tools.run import EXIT_NO_FILE

    out = out or sys.stdout
    err = err or sys.stderr
    status = 0
    for file in files:
        try:
            source = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError) as e:
            err.write(f"noodle fmt: cannot open {file}: {getattr(e, 'strerror', None) or e}\n")
            status = max(status, EXIT_NO_FILE)
            continue
        try:
            result = format_source(source, file, width)
        except FormatError as e:
            if e.diagnostics:
                print_diagnostics(e.diagnostics, {file: source}, err)
            err.write(f"noodle fmt: {e}\n")
            status = max(status, 2)
            continue
        if file == "-":
            if check:
                status = max(status, int(result != source))
            else:
                out.write(result)
        elif result != source:
            if check:
                out.write(f"would reformat {file}\n")
                status = max(status, 1)
            else:
                with open(file, "w", encoding="utf-8") as f:
                    f.write(result)
                out.write(f"reformatted {file}\n")
    return status
