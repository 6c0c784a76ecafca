"""Plain-Python numeric functions translated to Noodle source, specialised to the logged types.

The function is read with `inspect` and `ast`.  What it takes (the *numeric subset*):

- parameters without defaults, `*args` or `**kwargs`, typed from the call's pattern: int, float,
  bool, str, lists of those, ndarrays of float64/int64/float32/int32/bool with 1-3 dimensions;
- statements: assignment to a name, to `xs[i]` or `a[i, j]`, tuple assignment (`a, b = b, a + b`),
  augmented assignment, `if`/`elif`/`else`, `while`, `for` over `range(...)` or over a list or
  array, `break`, `continue`, `return`, `pass`, `xs.append(v)`, a docstring;
- expressions: int/float/bool/str constants, arithmetic (`+ - * / // % **`), comparisons (chains
  too), `and`/`or`/`not` on bools, `x if c else y`, indexing, `a.shape[k]`, `len`, `abs`, `min`
  and `max` of two, `float`, `int`, `sum` of a list, `math.sqrt/exp/log/sin/cos/tan/fabs/floor/
  ceil/pow/hypot/atan2/isnan/isinf` and the constants `math.pi/e/inf/nan`, `numpy.dot/sum/mean/
  sqrt/exp/log/zeros/ones`, module-level int/float constants, and calls to other functions of the
  same kind (translated in turn, specialised to the argument types at the call).

Anything else is named, with its file and line, in :class:`Untranslatable`.  Local variables get
the type of what is assigned to them (int and float join to float); a variable first assigned
inside a block is declared at the top of the function.  The result goes through the normal
pipeline, so its loops meet the intent recogniser and may run natively; validation, not this
module, decides whether the translation means what the original does.
"""
from __future__ import annotations

import ast
import inspect
import math
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any

NOODLE_KEYWORDS = {"fn", "let", "var", "const", "struct", "import", "module", "version", "test", "true", "false",
                   "none", "match", "throw", "try", "catch", "py", "as", "in", "and", "or", "not", "if", "else",
                   "while", "for", "return", "break", "continue", "print", "self", "math", "time", "sys", "io",
                   "random", "parallel", "array", "dot", "matmul", "zeros", "ones", "len", "range", "sum", "mean",
                   "sqrt", "exp", "log", "min", "max", "abs", "float", "int", "str", "bool", "List", "Map",
                   "Array", "Error", "sorted", "map", "filter", "reduce"}

MATH_FUNCS = {"sqrt": "float", "exp": "float", "log": "float", "sin": "float", "cos": "float", "tan": "float",
              "fabs": "float", "floor": "int", "ceil": "int", "pow": "float", "hypot": "float", "atan2": "float",
              "isnan": "bool", "isinf": "bool", "asin": "float", "acos": "float", "atan": "float"}
MATH_CONSTS = {"pi": "math.pi", "e": "math.e", "inf": "math.inf", "nan": "math.nan"}


class Untranslatable(Exception):
    """What the transpiler could not translate: one `file:line: what` per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class Translation:
    source: str
    entry: str
    params: list[str]
    result: str
    helpers: list[str] = field(default_factory=list)


def translate(fn: Any, param_types: list[str], vector_math: bool = True) -> Translation:
    """Noodle source for `fn` specialised to `param_types` (Noodle types), or Untranslatable.

    With `vector_math` each function written is marked `@vector_math`: its loops may call vector
    math, a few ulps off the C library's (validation compares floats with a tolerance anyway,
    noodle.ale.compare); without it (`noodle ale evolve --math exact`) native code gives the VM's bits."""
    unit = _Unit(vector_math)
    entry = unit.function(fn, param_types)
    body = "\n\n".join(unit.emitted)
    source = f"// translated from {_qualname(fn)} by noodle ale\nimport math\n\n{body}\n"
    f = unit.done[unit.key(fn, param_types)]
    return Translation(source, entry, list(param_types), f.result, [n for n in unit.names if n != entry])


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"


class _Done:
    def __init__(self, name: str, result: str) -> None:
        self.name, self.result = name, result


class _Unit:
    """All functions translated for one entry point (the entry and the helpers it calls)."""

    def __init__(self, vector_math: bool = True) -> None:
        self.vector_math = vector_math
        self.done: dict[tuple, _Done] = {}
        self.emitted: list[str] = []
        self.names: list[str] = []
        self.depth = 0

    @staticmethod
    def key(fn: Any, types_: list[str]) -> tuple:
        return (id(fn), tuple(types_))

    def function(self, fn: Any, param_types: list[str]) -> str:
        key = self.key(fn, param_types)
        if key in self.done:
            return self.done[key].name
        if self.depth > 8:
            raise Untranslatable([f"{_qualname(fn)}: calls nest too deep (recursion is not translated)"])
        name = f"ale_{fn.__name__}" if not self.names else f"ale_{fn.__name__}_{len(self.names)}"
        self.names.append(name)
        self.done[key] = _Done(name, "?")  # recursion: seen, result unknown -> a clear error below
        self.depth += 1
        try:
            text, result = _Function(self, fn, param_types, name).translate()
        finally:
            self.depth -= 1
        self.done[key] = _Done(name, result)
        self.emitted.append(text)
        return name


def _join(a: str, b: str) -> str | None:
    if a == b:
        return a
    if {a, b} == {"int", "float"}:
        return "float"
    if a == "?":
        return b
    if b == "?":
        return a
    return None


class _Function:
    def __init__(self, unit: _Unit, fn: Any, param_types: list[str], name: str) -> None:
        self.unit, self.fn, self.name = unit, fn, name
        self.problems: list[str] = []
        try:
            src = textwrap.dedent(inspect.getsource(fn))
            self.file = inspect.getsourcefile(fn) or "?"
            _, self.first = inspect.getsourcelines(fn)
        except (OSError, TypeError):
            raise Untranslatable([f"{_qualname(fn)}: its source is not available"]) from None
        tree = ast.parse(src)
        node = tree.body[0]
        if not isinstance(node, ast.FunctionDef):
            raise Untranslatable([f"{self.where(node)}: not a plain `def` function"])
        self.node = node
        self.globals = getattr(fn, "__globals__", {})
        args = node.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults or node.decorator_list:
            raise Untranslatable([f"{self.where(node)}: only plain positional parameters are translated "
                                  "(no defaults, *args, **kwargs or decorators)"])
        self.params = [a.arg for a in args.args]
        if len(self.params) != len(param_types):
            raise Untranslatable([f"{self.where(node)}: takes {len(self.params)} arguments, called with "
                                  f"{len(param_types)}"])
        self.types: dict[str, str] = dict(zip(self.params, param_types))
        self.param_set = set(self.params)
        self.assigned_params: set[str] = set()
        self.returns: list[str] = []
        self.declared: set[str] = set(self.params)
        self.loop_vars: set[str] = set()
        self.tmp = 0

    def where(self, node: ast.AST) -> str:
        return f"{self.file}:{self.first + getattr(node, 'lineno', 1) - 1}"

    def fail(self, node: ast.AST, what: str) -> str:
        self.problems.append(f"{self.where(node)}: {what}")
        return "<?>"

    # -------------------------------------------------------------- the function

    def translate(self) -> tuple[str, str]:
        body = [s for s in self.node.body]
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # the docstring
        self._infer(body)
        self._infer(body)  # twice: a loop can widen a variable (int -> float) after its first use
        self._check_loop_vars()
        hoisted = {n: t for n, t in self.types.items() if n not in self.param_set and n not in self.loop_vars}
        self.result = self._result_type(body)
        lines: list[str] = []
        for n in sorted(self.assigned_params):
            start = self.param(n)
            if self.types[n] == "float" and self.types_in[n] == "int":
                start = f"float({start})"
            lines.append(f"    var {self.local(n)}: {self.types[n]} = {start}")
        self.declared = set(self.params) | self.loop_vars
        for n, t in hoisted.items():
            default = _default(t)
            if default is None:
                if not self._assigned_first_at_top(body, n):
                    self.fail(self.node, f"the {t} variable `{n}` must be first assigned at the top level "
                                         "of the function (it has no default value to start from)")
                continue
            lines.append(f"    var {self.local(n)}: {t} = {default}")
            self.declared.add(n)
        lines += self.block(body, 1)
        result = self.result
        if result != "none" and not _ends_in_return(body):
            lines.append('    throw Error("TypeError: the Python function returns None here")')
        if self.problems:
            raise Untranslatable(self.problems)
        params = ", ".join(f"{self.param(p)}: {self.types_in[p]}" for p in self.params)
        ret = f" -> {result}" if result != "none" else ""
        attribute = "@vector_math\n" if self.unit.vector_math else ""
        text = f"{attribute}fn {self.name}({params}){ret} {{\n" + "\n".join(lines) + "\n}"
        return text, result

    @property
    def types_in(self) -> dict[str, str]:
        return self._types_in

    def _result_type(self, body: list[ast.stmt]) -> str:
        found: list[str] = []
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, ast.Return):
                found.append("none" if node.value is None else self.type_of(node.value))
        if not found:
            return "none"
        result = found[0]
        for r in found[1:]:
            j = _join(result, r)
            if j is None:
                self.fail(self.node, f"returns both {result} and {r}")
                return result
            result = j
        if result == "?":
            self.fail(self.node, "returns a value of a type the transpiler cannot tell")
        return result

    def _infer(self, body: list[ast.stmt]) -> None:
        if not hasattr(self, "_types_in"):
            self._types_in = {p: self.types[p] for p in self.params}
        saved = list(self.problems)
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            if isinstance(node, ast.Assign):
                if len(node.targets) == 1 and isinstance(node.targets[0], ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for t, v in zip(node.targets[0].elts, node.value.elts):
                        self._bind(t, v)
                elif len(node.targets) == 1:
                    self._bind(node.targets[0], node.value)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                self._bind_type(node.target.id, self.type_of(ast.BinOp(node.target, node.op, node.value)), node)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append" \
                    and isinstance(node.func.value, ast.Name) and len(node.args) == 1:
                item = self.type_of(node.args[0])
                if item != "?":
                    self._bind_type(node.func.value.id, f"List<{item}>", node)
            elif isinstance(node, ast.For) and isinstance(node.target, ast.Name):
                self.loop_vars.add(node.target.id)
                self._bind_type(node.target.id, self._iter_type(node.iter), node)
        self.problems = saved  # inference is tentative; emission reports for real

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self._bind_type(target.id, self.type_of(value), target)

    def _bind_type(self, name: str, t: str, node: ast.AST) -> None:
        if name in self.param_set:
            self.assigned_params.add(name)
        old = self.types.get(name)
        if old is None or t == "?":
            if t != "?":
                self.types[name] = t
            return
        j = _join(old, t)
        if j is not None:
            self.types[name] = j

    def _check_loop_vars(self) -> None:
        for node in ast.walk(self.node):
            if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
                name = node.target.id
                inside = {id(n) for n in ast.walk(node)}
                for other in ast.walk(self.node):
                    if isinstance(other, ast.Name) and other.id == name and id(other) not in inside:
                        self.fail(other, f"the loop variable `{name}` is also used outside its loop")
                        break

    def _assigned_first_at_top(self, body: list[ast.stmt], name: str) -> bool:
        for s in body:
            if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) \
                    and s.targets[0].id == name:
                return True
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(s)):
                return False
        return False

    def local(self, name: str) -> str:
        if name == "_" or name.startswith("ale_"):
            return f"ale_{name}_"
        return f"{name}_" if name in NOODLE_KEYWORDS else name

    def param(self, name: str) -> str:
        n = self.local(name)
        return f"{n}_in" if name in self.assigned_params else n

    def var(self, name: str) -> str:
        if name in self.param_set and name not in self.assigned_params:
            return self.param(name)
        return self.local(name)

    # -------------------------------------------------------------- statements

    def block(self, body: list[ast.stmt], depth: int) -> list[str]:
        out: list[str] = []
        for s in body:
            out += self.stmt(s, depth)
        return out

    def stmt(self, s: ast.stmt, depth: int) -> list[str]:
        pad = "    " * depth
        if isinstance(s, ast.Assign):
            if len(s.targets) != 1:
                return [pad + self.fail(s, "chained assignment (`a = b = ...`)")]
            target = s.targets[0]
            if isinstance(target, ast.Tuple):
                if not isinstance(s.value, ast.Tuple) or len(s.value.elts) != len(target.elts):
                    return [pad + self.fail(s, "tuple assignment from something other than a tuple of the same size")]
                out = []
                temps = []
                for v in s.value.elts:
                    self.tmp += 1
                    temps.append(f"ale_t{self.tmp}")
                    out.append(f"{pad}let {temps[-1]} = {self.expr(v)}")
                for t, tmp in zip(target.elts, temps):
                    out += self.assign(t, tmp, "?", s, pad)
                return out
            return self.assign(target, self.expr(s.value), self.type_of(s.value), s, pad)
        if isinstance(s, ast.AugAssign):
            op = _BINOPS.get(type(s.op))
            if op is None:
                return [pad + self.fail(s, f"the operator {type(s.op).__name__}")]
            if isinstance(s.target, ast.Name):
                t = self.types.get(s.target.id, "?")
                whole = ast.copy_location(ast.BinOp(s.target, s.op, s.value), s)
                rhs = self.expr(whole)
                if t == "float" and self.type_of(whole) == "int":
                    return [f"{pad}{self.var(s.target.id)} = float({rhs})"]
                if op != "**" and self.type_of(whole) == t:
                    return [f"{pad}{self.var(s.target.id)} {op}= {self.expr(s.value)}"]
                return [f"{pad}{self.var(s.target.id)} = {rhs}"]
            if isinstance(s.target, ast.Subscript):
                return [f"{pad}{self.expr(s.target)} {op}= {self.expr(s.value)}"]
            return [pad + self.fail(s, "augmented assignment to this target")]
        if isinstance(s, ast.If):
            out = [f"{pad}if {self.cond(s.test)} {{"] + self.block(s.body, depth + 1)
            orelse = s.orelse
            while len(orelse) == 1 and isinstance(orelse[0], ast.If):
                out.append(f"{pad}}} else if {self.cond(orelse[0].test)} {{")
                out += self.block(orelse[0].body, depth + 1)
                orelse = orelse[0].orelse
            if orelse:
                out.append(f"{pad}}} else {{")
                out += self.block(orelse, depth + 1)
            return out + [f"{pad}}}"]
        if isinstance(s, ast.While):
            if s.orelse:
                return [pad + self.fail(s, "`while ... else`")]
            return [f"{pad}while {self.cond(s.test)} {{"] + self.block(s.body, depth + 1) + [f"{pad}}}"]
        if isinstance(s, ast.For):
            if s.orelse:
                return [pad + self.fail(s, "`for ... else`")]
            if not isinstance(s.target, ast.Name):
                return [pad + self.fail(s, "a `for` over several names")]
            head = self.iteration(s.iter)
            return [f"{pad}for {self.local(s.target.id)} in {head} {{"] + self.block(s.body, depth + 1) + [f"{pad}}}"]
        if isinstance(s, ast.Return):
            if s.value is None:
                self.returns.append("none")
                return [f"{pad}return"]
            t = self.type_of(s.value)
            self.returns.append(t)
            value = self.expr(s.value)
            if self.result == "float" and t == "int":
                value = f"float({value})"
            return [f"{pad}return {value}"]
        if isinstance(s, ast.Break):
            return [f"{pad}break"]
        if isinstance(s, ast.Continue):
            return [f"{pad}continue"]
        if isinstance(s, ast.Pass):
            return []
        if isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                return []
            call = s.value
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "append" \
                    and self.type_of(call.func.value).startswith("List<") and len(call.args) == 1:
                return [f"{pad}{self.expr(call.func.value)}.append({self.expr(call.args[0])})"]
            return [pad + self.fail(s, "an expression statement other than `xs.append(v)`")]
        return [pad + self.fail(s, f"the statement `{type(s).__name__}`")]

    def assign(self, target: ast.expr, value: str, vtype: str, node: ast.stmt, pad: str) -> list[str]:
        if isinstance(target, ast.Name):
            name = target.id
            t = self.types.get(name, "?")
            if t == "float" and vtype == "int":
                value = f"float({value})"
            if name not in self.declared:
                self.declared.add(name)
                return [f"{pad}var {self.local(name)}: {t} = {value}"]
            return [f"{pad}{self.var(name)} = {value}"]
        if isinstance(target, ast.Subscript):
            return [f"{pad}{self.expr(target)} = {value}"]
        return [pad + self.fail(node, "assignment to this kind of target")]

    def iteration(self, it: ast.expr) -> str:
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" \
                and it.func.id not in self.globals and not it.keywords and 1 <= len(it.args) <= 3:
            args = [self.int_expr(a) for a in it.args]
            if len(args) == 1:
                return f"0..{args[0]}"
            if len(args) == 2:
                return f"{args[0]}..{args[1]}"
            return f"range({args[0]}, {args[1]}, {args[2]})"
        t = self.type_of(it)
        if t.startswith("List<") or t.startswith("Array<"):
            return self.expr(it)
        return self.fail(it, "a `for` over something other than range(...), a list or an array")

    def _iter_type(self, it: ast.expr) -> str:
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range":
            return "int"
        t = self.type_of(it)
        if t.startswith("List<"):
            return t[5:-1]
        if t.startswith("Array<"):
            elem, nd = _array_parts(t)
            return elem if nd == 1 else f"Array<{elem}, {nd - 1}>"
        return "?"

    def int_expr(self, e: ast.expr) -> str:
        t = self.type_of(e)
        if t not in ("int", "?"):
            self.fail(e, f"a range bound of type {t} (Python's range takes ints)")
        return self.expr(e)

    def cond(self, e: ast.expr) -> str:
        t = self.type_of(e)
        if t != "bool":
            return self.fail(e, f"a condition of type {t} (only bools are translated; write `x != 0`)")
        return self.expr(e)

    # -------------------------------------------------------------- expressions

    def type_of(self, e: ast.expr) -> str:
        """The Noodle type of a Python expression ("?" when unknown)."""
        if isinstance(e, ast.Constant):
            v = e.value
            return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(v), "?")
        if isinstance(e, ast.Name):
            if e.id in self.types:
                return self.types[e.id]
            g = self.globals.get(e.id, None)
            if isinstance(g, bool):
                return "bool"
            if isinstance(g, (int, float)):
                return "int" if isinstance(g, int) else "float"
            return "?"
        if isinstance(e, ast.BinOp):
            a, b = self.type_of(e.left), self.type_of(e.right)
            if a.startswith("Array<") or b.startswith("Array<"):
                arr = a if a.startswith("Array<") else b
                if isinstance(e.op, ast.MatMult):
                    return "?"
                elem, nd = _array_parts(arr)
                return f"Array<float, {nd}>" if isinstance(e.op, ast.Div) else arr
            if isinstance(e.op, ast.Div):
                return "float"
            if a == "str" and b == "str" and isinstance(e.op, ast.Add):
                return "str"
            if a in ("int", "float") and b in ("int", "float"):
                return "float" if "float" in (a, b) else "int"
            return "?"
        if isinstance(e, ast.UnaryOp):
            return "bool" if isinstance(e.op, ast.Not) else self.type_of(e.operand)
        if isinstance(e, (ast.BoolOp, ast.Compare)):
            return "bool"
        if isinstance(e, ast.IfExp):
            return _join(self.type_of(e.body), self.type_of(e.orelse)) or "?"
        if isinstance(e, ast.Subscript):
            t = self.type_of(e.value)
            if t.startswith("List<"):
                return t[5:-1]
            if t.startswith("Array<"):
                elem, nd = _array_parts(t)
                k = len(e.slice.elts) if isinstance(e.slice, ast.Tuple) else 1
                return elem if k == nd else f"Array<{elem}, {nd - k}>"
            if isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
                return "int"
            return "?"
        if isinstance(e, ast.Attribute):
            mod = self._module_of(e.value)
            if mod == "math" and e.attr in MATH_CONSTS:
                return "float"
            return "?"
        if isinstance(e, ast.Call):
            return self._call_type(e)
        if isinstance(e, ast.List):
            if not e.elts:
                return "?"
            t = self.type_of(e.elts[0])
            return f"List<{t}>"
        return "?"

    def _module_of(self, e: ast.expr) -> str | None:
        if isinstance(e, ast.Name) and e.id not in self.types:
            g = self.globals.get(e.id)
            if isinstance(g, types.ModuleType):
                return g.__name__
        return None

    def _callee(self, e: ast.Call) -> tuple[str, Any]:
        """("math", name) | ("numpy", name) | ("builtin", name) | ("python", fn) | ("?", None)."""
        f = e.func
        if isinstance(f, ast.Attribute):
            mod = self._module_of(f.value)
            if mod == "math":
                return "math", f.attr
            if mod == "numpy":
                return "numpy", f.attr
            return "?", None
        if isinstance(f, ast.Name):
            if f.id in self.types:
                return "?", None
            g = self.globals.get(f.id, _MISSING)
            if g is _MISSING and f.id in _BUILTINS:
                return "builtin", f.id
            if isinstance(g, types.FunctionType):
                return "python", g
            if g is getattr(math, f.id, None) and f.id in MATH_FUNCS:
                return "math", f.id
        return "?", None

    def _call_type(self, e: ast.Call) -> str:
        kind, what = self._callee(e)
        args = [self.type_of(a) for a in e.args]
        if kind == "math":
            return MATH_FUNCS.get(what, "?")
        if kind == "builtin":
            if what == "len":
                return "int"
            if what in ("float",):
                return "float"
            if what == "int":
                return "int"
            if what == "abs" and args:
                return args[0]
            if what in ("min", "max") and len(args) == 2:
                return _join(args[0], args[1]) or "?"
            if what == "sum" and args and args[0].startswith("List<"):
                return args[0][5:-1]
            return "?"
        if kind == "numpy":
            if what in ("dot",) and args and args[0].startswith("Array<"):
                elem, nd = _array_parts(args[0])
                return elem if nd == 1 else args[0]
            if what in ("sum",) and args and args[0].startswith("Array<"):
                return _array_parts(args[0])[0]
            if what == "mean":
                return "float"
            if what in ("sqrt", "exp", "log"):
                if args and args[0].startswith("Array<"):
                    return f"Array<float, {_array_parts(args[0])[1]}>"
                return "float"
            if what in ("zeros", "ones"):
                return "Array<float, 1>" if len(args) == 1 and args[0] == "int" else "?"
            return "?"
        if kind == "python":
            if any(a == "?" for a in args):
                return "?"
            key = self.unit.key(what, args)
            done = self.unit.done.get(key)
            if done is None:
                try:
                    self.unit.function(what, args)
                except Untranslatable:
                    return "?"
                done = self.unit.done[key]
            return done.result
        return "?"

    def expr(self, e: ast.expr) -> str:
        if isinstance(e, ast.Constant):
            v = e.value
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, int):
                if not -(2**63) <= v < 2**63:
                    return self.fail(e, f"the int {v} does not fit in 64 bits")
                return str(v)
            if isinstance(v, float):
                if math.isnan(v):
                    return "math.nan"
                if math.isinf(v):
                    return "math.inf" if v > 0 else "(-math.inf)"
                return repr(v)
            if isinstance(v, str):
                return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("{", "\\{").replace("}", "\\}") \
                    .replace("\n", "\\n") + '"'
            return self.fail(e, f"the constant {v!r}")
        if isinstance(e, ast.Name):
            if e.id in self.types:
                return self.var(e.id)
            g = self.globals.get(e.id, _MISSING)
            if isinstance(g, (bool, int, float)) and not isinstance(g, bool):
                return self.expr(ast.Constant(g))
            if isinstance(g, bool):
                return "true" if g else "false"
            return self.fail(e, f"the name `{e.id}` (only parameters, locals and module-level numbers are translated)")
        if isinstance(e, ast.BinOp):
            op = _BINOPS.get(type(e.op))
            if op is None:
                return self.fail(e, f"the operator {type(e.op).__name__}")
            a, b = self.type_of(e.left), self.type_of(e.right)
            if "?" in (a, b) or not ({a, b} <= {"int", "float"} or a.startswith("Array<") or b.startswith("Array<")
                                     or (a == b == "str" and op == "+")):
                return self.fail(e, f"`{op}` between {a} and {b}")
            return f"({self.expr(e.left)} {op} {self.expr(e.right)})"
        if isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.Not):
                return f"(not {self.cond(e.operand)})"
            if isinstance(e.op, ast.USub):
                return f"(-{self.expr(e.operand)})"
            if isinstance(e.op, ast.UAdd):
                return self.expr(e.operand)
            return self.fail(e, f"the operator {type(e.op).__name__}")
        if isinstance(e, ast.BoolOp):
            op = "and" if isinstance(e.op, ast.And) else "or"
            return "(" + f" {op} ".join(self.cond(v) for v in e.values) + ")"
        if isinstance(e, ast.Compare):
            parts = []
            left = e.left
            for op, right in zip(e.ops, e.comparators):
                o = _CMPOPS.get(type(op))
                if o is None:
                    return self.fail(e, f"the comparison {type(op).__name__}")
                ta, tb = self.type_of(left), self.type_of(right)
                if not ({ta, tb} <= {"int", "float"} or ta == tb and ta in ("bool", "str")):
                    return self.fail(e, f"`{o}` between {ta} and {tb}")
                if len(e.ops) > 1 and not isinstance(right, (ast.Name, ast.Constant)):
                    return self.fail(e, "a comparison chain whose middle is not a name or a constant")
                parts.append(f"{self.expr(left)} {o} {self.expr(right)}")
                left = right
            return "(" + " and ".join(parts) + ")"
        if isinstance(e, ast.IfExp):
            return f"({self.expr(e.body)} if {self.cond(e.test)} else {self.expr(e.orelse)})"
        if isinstance(e, ast.Subscript):
            if isinstance(e.slice, ast.Slice):
                return self.fail(e, "slicing")
            t = self.type_of(e.value)
            if isinstance(e.value, ast.Attribute) and e.value.attr == "shape" \
                    and self.type_of(e.value.value).startswith("Array<"):
                return f"{self.expr(e.value.value)}.shape[{self.expr(e.slice)}]"
            if not (t.startswith("List<") or t.startswith("Array<")):
                inner = self.expr(e.value)
                return inner if inner == "<?>" else self.fail(e, f"indexing a value of type {t}")
            if isinstance(e.slice, ast.Tuple):
                if not t.startswith("Array<"):
                    return self.fail(e, "indexing a list with several indices")
                idx = ", ".join(self.int_expr(x) for x in e.slice.elts)
            else:
                idx = self.int_expr(e.slice)
            return f"{self.expr(e.value)}[{idx}]"
        if isinstance(e, ast.Attribute):
            if self._module_of(e.value) == "math" and e.attr in MATH_CONSTS:
                return MATH_CONSTS[e.attr]
            return self.fail(e, f"the attribute `.{e.attr}`")
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.List):
            if not e.elts:
                return "[]"  # assigned to a variable whose type its appends gave
            t = self.type_of(e)
            if t == "?" or "?" in t:
                return self.fail(e, "an empty list or a list of unknown items (give it a first item)")
            return "[" + ", ".join(self.expr(x) for x in e.elts) + "]"
        return self.fail(e, f"the expression `{type(e).__name__}`")

    def call(self, e: ast.Call) -> str:
        if e.keywords:
            return self.fail(e, "keyword arguments")
        kind, what = self._callee(e)
        args = [self.expr(a) for a in e.args]
        types_ = [self.type_of(a) for a in e.args]
        if kind == "math":
            if what not in MATH_FUNCS:
                return self.fail(e, f"math.{what}")
            fargs = [f"float({a})" if t == "int" and what not in ("isnan", "isinf") else a for a, t in zip(args, types_)]
            return f"math.{what}({', '.join(fargs)})"
        if kind == "builtin":
            if what == "len" and len(args) == 1:
                return f"len({args[0]})"
            if what in ("float", "int") and len(args) == 1 and types_[0] in ("int", "float", "bool"):
                return f"{what}({args[0]})"
            if what == "abs" and len(args) == 1 and types_[0] in ("int", "float"):
                return f"abs({args[0]})"
            if what in ("min", "max") and len(args) == 2 and set(types_) <= {"int", "float"}:
                return f"{what}({args[0]}, {args[1]})"
            if what == "sum" and len(args) == 1 and types_[0] in ("List<int>", "List<float>"):
                return f"sum({args[0]})"
            return self.fail(e, f"the call {what}(...) with arguments {', '.join(types_) or 'none'}")
        if kind == "numpy":
            if what == "dot" and len(args) == 2 and all(t.startswith("Array<") for t in types_):
                return f"dot({args[0]}, {args[1]})" if _array_parts(types_[0])[1] == 1 else f"matmul({args[0]}, {args[1]})"
            if what in ("sum", "mean", "sqrt", "exp", "log") and len(args) == 1 and types_[0].startswith("Array<"):
                return f"{what}({args[0]})"
            if what in ("sqrt", "exp", "log") and len(args) == 1 and types_[0] in ("int", "float"):
                return self.fail(e, f"numpy.{what} of a scalar (it returns nan where math.{what} raises)")
            if what in ("zeros", "ones") and len(args) == 1 and types_[0] == "int":
                return f"{what}({args[0]})"
            return self.fail(e, f"numpy.{what} with arguments {', '.join(types_)}")
        if kind == "python":
            if "?" in types_:
                return self.fail(e, f"a call of {what.__name__} with an argument of unknown type")
            try:
                name = self.unit.function(what, types_)
            except Untranslatable as u:
                self.problems += u.problems
                return "<?>"
            if self.unit.done[self.unit.key(what, types_)].result == "?":
                return self.fail(e, f"the recursive call of {what.__name__}")
            return f"{name}({', '.join(args)})"
        return self.fail(e, f"the call of `{ast.unparse(e.func)}`")


_MISSING = object()
_BUILTINS = {"len", "float", "int", "abs", "min", "max", "sum", "range"}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
           ast.Pow: "**"}
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def _array_parts(t: str) -> tuple[str, int]:
    inner = t[len("Array<"):-1]
    elem, nd = inner.split(",")
    return elem.strip(), int(nd)


def _default(t: str) -> str | None:
    if t == "int":
        return "0"
    if t == "float":
        return "0.0"
    if t == "bool":
        return "false"
    if t == "str":
        return '""'
    if t.startswith("List<"):
        return "[]"
    return None


def _ends_in_return(body: list[ast.stmt]) -> bool:
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.If):
        return _ends_in_return(last.body) and _ends_in_return(last.orelse)
    return False
