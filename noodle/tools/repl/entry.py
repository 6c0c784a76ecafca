"""What the REPL reads: whether an entry is complete, and what it declares.

Completeness is decided by the real parser, as Python's `codeop` does: an
entry is incomplete exactly when parsing it (with the newline the user just
typed) fails at the end of the input — an open brace, bracket or block
comment, an operator waiting for its operand.  Any other syntax error is
complete: it is reported at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from noodle.compiler import ast
from noodle.compiler.parser import parse
from noodle.errors import CompileError

#: Top-level items that declare names living on after their entry.
DECLARATIONS = (ast.Import, ast.FromImport, ast.FnDecl, ast.StructDecl, ast.LetDecl, ast.ConstDecl, ast.TestDecl)


def _ends_at_eof(d) -> bool:  # noqa: ANN001 - a Diagnostic
    return (d.message.startswith("unexpected end of input") or d.message == "unterminated block comment"
            or (d.message.endswith("is never closed") and any(text.startswith("unexpected end of input")
                                                              for _, text in d.related)))


def is_complete(text: str) -> bool:
    """Would the parser accept `text` as it stands (or reject it for a reason more input cannot fix)?"""
    if not text.strip():
        return True
    try:
        parse(text + "\n", "<repl>")
    except CompileError as e:
        return not any(_ends_at_eof(d) for d in e.diagnostics)
    return True


def may_continue(text: str) -> bool:
    """A complete entry ending in `if ... { }` without `else`: the next line may start with `else`."""
    try:
        tree = parse(text + "\n", "<repl>")
    except CompileError:
        return False
    if not tree.items:
        return False
    last = tree.items[-1]
    while isinstance(last, ast.If) and isinstance(last.otherwise, ast.If):
        last = last.otherwise
    return isinstance(last, ast.If) and last.otherwise is None


@dataclass
class Declaration:
    """One top-level declaration kept by the session: its source text and the names it binds.

    `items` is its syntax tree, parsed once at the lines the session gave its entry (see
    :class:`noodle.tools.repl.session.Session`); `stub` the same declaration with every function
    body replaced by `throw` — what later entries compile, since the functions themselves were
    translated once and live on in the session's cells.
    """

    names: tuple[str, ...]
    kind: str  # "import" | "fn" | "struct" | "global" | "test"
    text: str
    origin: str  # where it came from, for diagnostics: "<repl#3>"
    module: str | None = None  # for `import a.b`: the module the name stands for
    items: list = field(default_factory=list)  # its syntax tree (top-level items), parsed once
    first: int = 0  # its lines in the session (the first line of `text`)
    stub: list | None = None  # the stub's syntax tree, when it has one
    functions: tuple[str, ...] = ()  # the functions the stub stands for ("f", "P.norm")
    uses: "set[str] | None" = None  # the names its compiled text mentions (the declarations it needs)


def _offsets(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def source_of(text: str, span: ast.Span, starts: list[int] | None = None) -> str:
    """The text a span covers."""
    starts = starts or _offsets(text)
    begin = starts[span.line - 1] + span.col - 1
    end = starts[span.end_line - 1] + span.end_col - 1
    return text[begin:end]


def pattern_names(p: ast.Pattern) -> list[str]:
    if isinstance(p, ast.NamePattern):
        return [p.name]
    return [n for q in p.items for n in pattern_names(q)]  # type: ignore[union-attr]


def declaration_of(item: object, text: str, origin: str, starts: list[int]) -> Declaration | None:
    """The declaration a top-level item makes, or None for an executable statement."""
    body = source_of(text, item.span, starts)  # type: ignore[attr-defined]
    if isinstance(item, ast.Import):
        return Declaration((item.alias or item.path.split(".")[-1],), "import", body, origin, item.path)
    if isinstance(item, ast.FromImport):
        return Declaration(tuple(alias or name for name, alias in item.names), "import", body, origin)
    if isinstance(item, ast.FnDecl):
        attrs = "".join(f"@{a}\n" for a in item.attributes)
        return Declaration((item.name,), "fn", attrs + body, origin)
    if isinstance(item, ast.StructDecl):
        return Declaration((item.name,), "struct", body, origin)
    if isinstance(item, ast.ConstDecl):
        return Declaration((item.name,), "global", body, origin)
    if isinstance(item, ast.LetDecl):
        return Declaration(tuple(pattern_names(item.target)), "global", body, origin)
    if isinstance(item, ast.TestDecl):
        return Declaration((f"test {item.name!r}",), "test", body, origin)
    return None


def declarations(tree: ast.Module, text: str, origin: str) -> list[Declaration]:
    starts = _offsets(text)
    out = []
    for item in tree.items:
        d = declaration_of(item, text, origin, starts)
        if d is not None:
            out.append(d)
    return out


#: what a stub's functions do instead of their body (they are never called: the real ones are)
STUB_BODY = '{ throw Error("") }'


def _offset(starts: list[int], line: int, col: int) -> int:
    return starts[line - 1] + col - 1


def stub_text(item: object, text: str, starts: list[int], ret_text: "Callable[[str], str | None]") -> str:
    """The declaration `item` (a FnDecl or StructDecl of `text`) with each function body replaced by
    :data:`STUB_BODY`; a function whose return type is inferred gets it written (`ret_text(name)`
    gives it, None for `none`; it raises when the type cannot be written)."""
    begin = _offset(starts, item.span.line, item.span.col)  # type: ignore[attr-defined]
    end = _offset(starts, item.span.end_line, item.span.end_col)  # type: ignore[attr-defined]
    fns = [(item, item.name)] if isinstance(item, ast.FnDecl) else \
        [(m, f"{item.name}.{m.name}") for m in item.methods]  # type: ignore[attr-defined]
    out = text[begin:end]
    for fn, name in sorted(fns, key=lambda p: (p[0].body.span.line, p[0].body.span.col), reverse=True):
        b0 = _offset(starts, fn.body.span.line, fn.body.span.col) - begin
        b1 = _offset(starts, fn.body.span.end_line, fn.body.span.end_col) - begin
        ret = ""
        if fn.ret is None:
            shown = ret_text(name)
            ret = f"-> {shown} " if shown is not None else ""
        out = out[:b0] + ret + STUB_BODY + out[b1:]
    attrs = "".join(f"@{a}\n" for a in item.attributes) if isinstance(item, ast.FnDecl) else ""
    return attrs + out


def stub_functions(item: object) -> tuple[str, ...]:
    if isinstance(item, ast.FnDecl):
        return (item.name,)
    return tuple(f"{item.name}.{m.name}" for m in item.methods)  # type: ignore[attr-defined]
