"""Building the AST: the callbacks Lark calls at each reduction, with accurate spans.

There is no parse tree: each reduction of the LALR tables (:mod:`noodle.compiler.lalr`) calls a
method of :class:`Builder` that returns the :mod:`noodle.compiler.ast` node at once.  The depth
check at the end keeps later passes, which recurse over the tree, within Python's stack.
"""
from __future__ import annotations

from typing import Any

from noodle.compiler import ast
from noodle.compiler.ast import Span
from noodle.compiler.lexer import RawToken
from noodle.compiler.parse_state import CURRENT, INT_MAX, MAX_NESTING
# =========================================================================
# AST builder: called by Lark at each reduction
# =========================================================================

def _is_tok(x: Any) -> bool:
    return type(x) is RawToken


def _span(a: Any, b: Any) -> Span:
    """From the start of `a` to the end of `b` (tokens or nodes)."""
    if type(a) is RawToken:
        l1, c1 = a.line, a.col
    else:
        sp = a.span
        l1, c1 = sp.line, sp.col
    if type(b) is RawToken:
        return Span(CURRENT.ctx.file, l1, c1, b.end_line, b.end_col)
    sp = b.span
    return Span(CURRENT.ctx.file, l1, c1, sp.end_line, sp.end_col)


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


#: what a literal with more significant digits than any 64-bit int has stands for: far past the
#: range (and never converted: Python refuses to read decimal ints of more than 4,300 digits)
_HUGE = 1 << 100


def _int_value(text: str) -> int:
    text = text.replace("_", "")
    prefix = text[:2].lower()
    base = {"0x": 16, "0b": 2, "0o": 8}.get(prefix, 10)
    digits = (text[2:] if base != 10 else text).lstrip("0") or "0"
    if len(digits) > 80:  # >= 2**80 in any base: out of range
        return _HUGE
    try:
        return int(digits, base)
    except ValueError:  # already reported by the lexer
        return 0


class _Builder:
    """Lark callbacks (one per grammar rule or alias) building AST nodes."""

    # ------------------------------------------------------------ top level

    def start(self, c: list) -> ast.Module:
        ctx = CURRENT.ctx
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
        return ast.Module(header, items, ctx.file, ctx.src)

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
        ctx = CURRENT.ctx
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
        return ast.StructDecl(str(c[1]), fields, methods, _span(c[0], c[-1]), _span(c[1], c[1]))

    def field_decl(self, c: list) -> ast.Field:
        default = c[4] if len(c) > 4 else None
        return ast.Field(str(c[0]), c[2], default, _span(c[0], c[-1]))

    def test_decl(self, c: list) -> ast.TestDecl:
        return ast.TestDecl(self._plain_string(c[1], "a test name"), c[2], _span(c[0], c[-1]))

    def _plain_string(self, tok: Any, what: str) -> str:
        ctx = CURRENT.ctx
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
        return ast.ConstDecl(str(c[1]), ty, c[-1], _span(c[0], c[-1]), _span(c[1], c[1]))

    def assign_stmt(self, c: list) -> ast.Assign:
        target, op, value = c
        if not isinstance(target, (ast.Name, ast.Attribute, ast.Index)):
            what = _ASSIGN_TARGET_WORDS.get(type(target).__name__, "this expression")
            hint = "only a name, a field (`a.b`) or an index (`a[i]`) can be assigned"
            if isinstance(target, ast.TupleLit):
                hint += "; to unpack a tuple, declare: `let (a, b) = ...`"
            CURRENT.ctx.error("E0001", f"cannot assign to {what}", target.span, hint)
        return ast.Assign(target, str(op), value, _span(target, value))

    def expr_stmt(self, c: list) -> ast.ExprStmt:
        return ast.ExprStmt(c[0], c[0].span)

    def if_stmt(self, c: list) -> ast.If:
        # c: `if` cond block, each `else if` as (`if`, cond, block), then `else` block if any; the
        # chain is built nested as written (an `else if` is an `if` in the `else`), from its end
        links = [(c[0], c[1], c[2])] + [x for x in c[3:] if type(x) is tuple]
        otherwise = c[-1] if type(c[-1]) is not tuple and len(c) > 3 else None
        end = otherwise if otherwise is not None else links[-1][2]
        for token, cond, then in reversed(links):
            otherwise = ast.If(cond, then, otherwise, _span(token, end))
        return otherwise

    def else_if(self, c: list) -> tuple:
        return (c[1], c[2], c[3])

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
        return ast.Try(c[1], name, c[-1], _span(c[0], c[-1]), _span(c[3], c[3]) if name is not None else ast.NO_SPAN)

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
        if sop == "-" and isinstance(operand, ast.IntLit) and operand.value == INT_MAX + 1:
            key = (operand.span.line, operand.span.col)
            if CURRENT.ctx.overflow.pop(key, None) is not None:
                return ast.IntLit(-(INT_MAX + 1), _span(op, operand))
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
                CURRENT.ctx.error("E0001", "positional argument after a named argument", a.span,
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
        if value > INT_MAX:
            CURRENT.ctx.overflow[(sp.line, sp.col)] = (sp, str(t))
        return ast.IntLit(value, sp)

    def float_lit(self, c: list) -> ast.FloatLit:
        t = c[0]
        try:
            value = float(str(t).replace("_", ""))
        except ValueError:  # already reported by the lexer
            value = 0.0
        sp = _span(t, t)
        if value == _INF:  # past the largest float: float() rounds it to inf without a word
            text = str(t)
            CURRENT.ctx.error("E0004", f"float literal {text[:40]}{'...' if len(text) > 40 else ''} "
                              "is out of the 64-bit float range", sp,
                              "the largest float is about 1.7976931348623157e308; use math.inf for infinity")
        return ast.FloatLit(value, sp)

    def string(self, c: list) -> Any:
        t = c[0]
        v = CURRENT.ctx.payloads.get(t.pos, "")
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
            CURRENT.ctx.error("E0001", "a tuple type needs at least two items", _span(c[0], c[-1]))
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


BUILDER = _Builder()


# =========================================================================
# Depth check (later passes recurse over the tree)
# =========================================================================

_INF = float("inf")
_SKIP_FIELDS = frozenset({"span", "name_span"})
_FIELDS_CACHE: dict[type, tuple[str, ...]] = {}


def too_deep(root: Any) -> tuple[Any, int]:
    """(the first node nested deeper than MAX_NESTING or None, the tree's depth) — an iterative walk.

    Nesting is what the user nests: brackets, blocks, operands of operators.  The left operand of
    a binary operator is not nested in it: a flat chain `1 + 1 + ... + 1` (or `a and b and ...`),
    which Lark builds left-associative, as deep as it is long, counts one level; so does a chain
    of `else if`s.  The depth
    returned is the tree's own (chains at full length): what the passes that recurse need room for
    (noodle.deepstack).
    """
    stack = [(root, 0, 0)]
    cache = _FIELDS_CACHE
    deepest = 0
    while stack:
        node, d, t = stack.pop()
        if d > MAX_NESTING:
            return node, deepest
        if t > deepest:
            deepest = t
        cls = type(node)
        names = cache.get(cls)
        if names is None:
            names = tuple(n for n in getattr(cls, "__slots__", ()) if n not in _SKIP_FIELDS)
            cache[cls] = names
        t += 1
        if cls is ast.Binary:
            stack.append((node.left, d, t))
            stack.append((node.right, d + 1, t))
            continue
        if cls is ast.If and type(node.otherwise) is ast.If:
            # `else if` continues a chain, a row the checker makes flat (checker.chains): not a nest
            stack.append((node.cond, d + 1, t))
            stack.append((node.then, d + 1, t))
            stack.append((node.otherwise, d, t))
            continue
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
                                stack.append((sub, d, t))
                    elif hasattr(item, "span"):
                        stack.append((item, d, t))
            elif hasattr(v, "span"):
                stack.append((v, d, t))
    return None, deepest


