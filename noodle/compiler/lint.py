"""Warnings: what compiles but is probably a mistake.

Run on the AST of a module that checked without errors.  Each finding is an ordinary
:class:`~noodle.compiler.diagnostics.Diagnostic` with severity "warning", a code (`W....`, listed
in :data:`~noodle.compiler.diagnostics.CODES`), a span and a hint, so every tool that shows
diagnostics (noodlec, noodle run, noodle check, --json, an editor) shows warnings too.

The walk keeps the language's scopes: a block, a function's parameters, a `for` variable, a
lambda's parameters; a name read anywhere below its declaration (closures included) is used.
Names starting with `_` are never reported as unused.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass

from noodle.compiler import ast
from noodle.compiler.diagnostics import DiagnosticBag

#: the warning codes (their descriptions are in diagnostics.CODES)
WARNINGS = ("W0101", "W0102", "W0103", "W0104", "W0105", "W0201", "W0202", "W0203")

_ENDS = (ast.Return, ast.Break, ast.Continue, ast.Throw)


@dataclass
class _Binding:
    name: str
    span: ast.Span
    kind: str  # let | var | for | param | catch
    read: bool = False
    assigned: bool = False


@dataclass
class _Function:
    scopes: list[dict[str, _Binding]] = field(default_factory=list)


class Linter:
    def __init__(self, module: ast.Module, bag: DiagnosticBag) -> None:
        self.module = module
        self.bag = bag
        self.functions: list[_Function] = []
        self.used_globals: set[str] = set()

    # ------------------------------------------------------------ scopes
    def push_function(self) -> None:
        self.functions.append(_Function([{}]))

    def pop_function(self) -> None:
        fn = self.functions.pop()
        for scope in fn.scopes:
            self.report(scope)

    def push(self) -> None:
        if not self.functions:
            self.push_function()  # a block at top level: its variables are the module code's locals
            self.functions[-1].scopes = []
        self.functions[-1].scopes.append({})

    def pop(self) -> None:
        fn = self.functions[-1]
        self.report(fn.scopes.pop())
        if not fn.scopes and len(self.functions) == 1 and self._top_level:
            self.functions.pop()

    _top_level = False

    def declare(self, name: str, span: ast.Span, kind: str) -> None:
        if not self.functions:
            return  # a module global: exported, never reported
        if not name.startswith("_"):
            outer = self.lookup(name)
            if outer is not None:
                self.bag.warning("W0104", f"`{name}` shadows the {_what(outer.kind)} `{name}` declared above", span,
                                 "give it another name (shadowing hides the outer one until this block ends)",
                                 related=[(outer.span, f"the outer `{name}` is declared here")])
        self.functions[-1].scopes[-1][name] = _Binding(name, span, kind)

    def lookup(self, name: str) -> _Binding | None:
        for fn in reversed(self.functions):
            for scope in reversed(fn.scopes):
                if name in scope:
                    return scope[name]
        return None

    def report(self, scope: dict[str, _Binding]) -> None:
        for b in scope.values():
            if b.name.startswith("_") or b.kind == "catch":
                continue
            if not b.read:
                if b.kind == "param":
                    self.bag.warning("W0102", f"parameter `{b.name}` is never read", b.span,
                                     f"if that is intended, name it `_{b.name}`")
                else:
                    what = "loop variable" if b.kind == "for" else "variable"
                    self.bag.warning("W0101", f"{what} `{b.name}` is never read", b.span,
                                     f"remove it, or name it `_{b.name}` (or `_`) if that is intended")
            elif b.kind == "var" and not b.assigned:
                self.bag.warning("W0105", f"`{b.name}` is declared with `var` but never reassigned", b.span,
                                 f"declare it with `let` (its contents can still change: `let` only fixes "
                                 f"which value `{b.name}` names)")

    # ------------------------------------------------------------ the module
    def run(self) -> None:
        imports: list[tuple[str, ast.Span]] = []
        for item in self.module.items:
            if isinstance(item, ast.Import) and not item.is_py:
                imports.append((item.alias or item.path.split(".")[-1], item.span))
            elif isinstance(item, ast.FromImport):
                spans = item.name_spans or [item.span] * len(item.names)
                for (name, alias), span in zip(item.names, spans):
                    imports.append((alias or name, span))
        self._top_level = True
        self.statements([i for i in self.module.items if not isinstance(i, (ast.Import, ast.FromImport))])
        for name, span in imports:
            if name not in self.used_globals:
                self.bag.warning("W0103", f"`{name}` is imported but never used", span, "remove the import")

    def function(self, params: list[ast.Param], body: "ast.Block | ast.Expr") -> None:
        saved, self._top_level = self._top_level, False
        self.push_function()
        for p in params:
            if p.name != "self":
                self.declare(p.name, p.span, "param")
        if isinstance(body, ast.Block):
            self.statements(body.stmts)
        else:
            self.expr(body)
        self.pop_function()
        self._top_level = saved

    # ------------------------------------------------------------ statements
    def statements(self, stmts: list) -> None:
        ended = False
        prev = None
        for s in stmts:
            if ended:
                self.bag.warning("W0201", "this code is never reached", s.span,
                                 "the statement before it always leaves the block; remove this code or that statement")
                ended = False  # reported once per block
                prev = None
            self.stmt(s, prev)
            if isinstance(s, _ENDS):
                ended = True
            prev = s

    def block(self, b: ast.Block) -> None:
        self.push()
        self.statements(b.stmts)
        self.pop()

    def stmt(self, s: object, prev: object = None) -> None:
        if isinstance(s, ast.FnDecl):
            self.function(s.params, s.body)
        elif isinstance(s, ast.StructDecl):
            for f in s.fields:
                default = getattr(f, "default", None)
                if default is not None:
                    self.expr(default)
            for m in s.methods:
                self.function(m.params, m.body)
        elif isinstance(s, ast.TestDecl):
            saved, self._top_level = self._top_level, False
            self.push_function()
            self.statements(s.body.stmts)
            self.pop_function()
            self._top_level = saved
        elif isinstance(s, ast.LetDecl):
            self.expr(s.value)
            for name, span in _pattern_names(s.target):
                self.declare(name, span, "var" if s.mutable else "let")
        elif isinstance(s, ast.ConstDecl):
            self.expr(s.value)
            self.declare(s.name, s.span, "let")
        elif isinstance(s, ast.Assign):
            self.expr(s.value)
            if isinstance(s.target, ast.Name):
                b = self.lookup(s.target.id)
                if b is not None:
                    b.assigned = True
                else:
                    self.used_globals.add(s.target.id)
            else:
                self.expr(s.target)
        elif isinstance(s, ast.ExprStmt):
            self.expr(s.expr)
            self.dropped(s, prev)
        elif isinstance(s, ast.If):
            self.expr(s.cond)
            self.block(s.then)
            if isinstance(s.otherwise, ast.Block):
                self.block(s.otherwise)
            elif s.otherwise is not None:
                self.stmt(s.otherwise)
        elif isinstance(s, ast.While):
            self.expr(s.cond)
            self.block(s.body)
        elif isinstance(s, ast.For):
            self.expr(s.iter)
            self.push()
            for name, span in _pattern_names(s.target):
                self.declare(name, span, "for")
            self.statements(s.body.stmts)
            self.pop()
        elif isinstance(s, ast.Try):
            self.block(s.body)
            self.push()
            if s.catch_name is not None:
                self.declare(s.catch_name, s.handler.span, "catch")
            self.statements(s.handler.stmts)
            self.pop()
        elif isinstance(s, ast.Block):
            self.block(s)
        else:  # Return, Throw, Assert, Break, Continue
            self.children(s)

    def dropped(self, s: ast.ExprStmt, prev: object) -> None:
        e = s.expr
        if isinstance(e, (ast.Call, ast.Lambda)):
            return
        op = self.leading_operator(s)
        if op is not None and prev is not None and getattr(prev, "span", None) is not None \
                and prev.span.end_line < s.span.line:
            self.bag.warning("W0203", f"this line starts with `{op}`: it is a statement of its own, whose value "
                             "is dropped, not a continuation of the line above", s.span,
                             "a statement ends at the end of its line; to continue an expression on the next "
                             "line, wrap it in parentheses: `x = (a` / `    + b)`")
            return
        self.bag.warning("W0202", "the value of this expression is computed and dropped", s.span,
                         "assign it (`let v = ...`), print it, or remove the line")

    def leading_operator(self, s: ast.ExprStmt) -> str | None:
        """`+` or `-` when the statement's line starts with it (`+ 0.125 * x` meant as a continuation)."""
        lines = self.module.source.split("\n")
        if not 1 <= s.span.line <= len(lines):
            return None
        text = lines[s.span.line - 1][s.span.col - 1:]
        if text[:1] in ("+", "-") and text[1:2] not in ("=", ">") and not lines[s.span.line - 1][:s.span.col - 1].strip():
            return text[0]
        return None

    # ------------------------------------------------------------ expressions
    def expr(self, e: object) -> None:
        if isinstance(e, ast.Name):
            b = self.lookup(e.id)
            if b is not None:
                b.read = True
            else:
                self.used_globals.add(e.id)
        elif isinstance(e, ast.Lambda):
            self.function(e.params, e.body)
        elif isinstance(e, ast.Attribute):
            self.expr(e.obj)
        else:
            self.children(e)

    def children(self, node: object) -> None:
        if not is_dataclass(node):
            return
        for f in fields(node):
            if f.name == "span":
                continue
            self._visit(getattr(node, f.name))

    def _visit(self, value: object) -> None:
        if isinstance(value, (list, tuple)):
            for v in value:
                self._visit(v)
        elif isinstance(value, ast.Block):
            self.block(value)
        elif isinstance(value, ast.Arg):
            self.expr(value.value)
        elif is_dataclass(value) and not isinstance(value, (ast.Span, ast.TypeName, ast.TupleType, ast.FnType)):
            self.expr(value)


def _what(kind: str) -> str:
    return {"param": "parameter", "for": "loop variable", "catch": "error variable"}.get(kind, "variable")


def _pattern_names(p: object) -> list[tuple[str, ast.Span]]:
    if isinstance(p, ast.NamePattern):
        return [(p.name, p.span)]
    if isinstance(p, ast.TuplePattern):
        return [x for q in p.items for x in _pattern_names(q)]
    return []


def lint(module: ast.Module, bag: DiagnosticBag) -> None:
    """Add the module's warnings to `bag`."""
    Linter(module, bag).run()
