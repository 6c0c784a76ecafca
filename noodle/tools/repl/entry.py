"""What the REPL reads: whether an entry is complete, and what it declares.

Completeness is decided by the real parser, as Python's `codeop` does: an
entry is incomplete exactly when parsing it (with the newline the user just
typed) fails at the end of the input — an open brace, bracket or block
comment, an operator waiting for its operand.  Any other syntax error is
complete: it is reported at once.
"""
from __future__ import annotations

from dataclasses import dataclass

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
    """One top-level declaration kept by the session: its source text and the names it binds."""

    names: tuple[str, ...]
    kind: str  # "import" | "fn" | "struct" | "global" | "test"
    text: str
    origin: str  # where it came from, for diagnostics: "<repl#3>"
    module: str | None = None  # for `import a.b`: the module the name stands for


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
