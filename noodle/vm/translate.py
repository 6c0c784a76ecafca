"""The interpreter's engine: verified bytecode → Python source → Python code objects.

A plain dispatch loop written in Python runs 10–50x slower than CPython, so
the VM instead compiles each function's bytecode, once at load time, into a
Python function and lets CPython's own interpreter run it.  The bytecode
stays the module's format; this is a load-time translation, like a JIT whose
target is CPython bytecode.

Translation is a symbolic execution of the stack machine: expression ops
build Python expression text on a symbolic stack, statement ops emit lines,
and the structured control ops (IF/LOOP/FOR_*/TRY, AND/OR/COND) map directly
onto Python's own `if`, `while`, `for`, `try`, `and`/`or` and conditional
expressions.  Lambdas become nested `def`s, so closures capture by reference
through Python cells.  Int arithmetic is overflow-checked inline.

Safety: only verified modules are translated.  Every Python identifier the
translator writes is made from integers (`v0_3`, `f2`, `g1`); constants are
written with `repr`; fields are attributes `f_<identifier>`; other names
reach the code only as string literals.  So no module, however crafted, can
inject code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from noodle.stdlib.natives import NATIVES
from noodle.format.module_file import FunctionCode, LoadError, ModuleFile
from noodle.format.opcodes import NUM_OPS, OPS, WORDS_PER_INSTR, Op
from noodle.vm.metering import COSTS

MIN, MAX = -(2**63), 2**63 - 1
_CHECKED = "(_t if {lo} <= (_t := {expr}) <= {hi} else _ovf())"

_PLAIN_BINARY = {
    Op.BAND: "&", Op.BOR: "|", Op.BXOR: "^", Op.IMOD: "%",
    Op.FADD: "+", Op.FSUB: "-", Op.FMUL: "*", Op.FDIV: "/", Op.FFLOORDIV: "//", Op.FMOD: "%",
    Op.LCONCAT: "+",
    Op.EQ: "==", Op.NE: "!=", Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">=", Op.IN: "in", Op.NOT_IN: "not in",
}
#: metered code's comparisons (noodle.vm.metering.helpers), which charge by the size compared
_COMPARISONS = {Op.EQ: "_eq", Op.NE: "_ne", Op.LT: "_lt", Op.LE: "_le", Op.GT: "_gt", Op.GE: "_ge"}
_FLOAT_ARITH = {Op.FADD, Op.FSUB, Op.FMUL, Op.FDIV, Op.FFLOORDIV, Op.FMOD, Op.FPOW}
_CHECKED_BINARY = {Op.IADD: "+", Op.ISUB: "-", Op.IMUL: "*", Op.IFLOORDIV: "//"}

def _args(stack: "list[_Val]", k: int) -> list[str]:
    """The texts of the top `k` values, bottom first, taken off the stack."""
    if k == 0:
        return []
    vals = [v.text for v in stack[-k:]]
    del stack[-k:]
    return vals


def translated_ops() -> frozenset[Op]:
    """The opcodes the translator has a translation for (every one: tests/test_opcodes.py)."""
    return frozenset(Op(i) for i, fn in enumerate(_STEPS) if fn is not None)


def _atom(text: str) -> str:
    """`text` made safe before `.name`: a bare int constant gets parentheses (`5.f_x` does not parse)."""
    return f"({text})" if text.isdigit() else text


@dataclass(slots=True)
class _Val:
    """An entry of the symbolic stack: Python expression text (always safe to embed)."""

    text: str
    #: for an int→float conversion, the int expression inside (float arithmetic mixes freely)
    inner: str | None = None
    #: for a string constant, its value; for a number turned to text, (number expression, conversion)
    #: — what string building needs to write one f-string instead of a chain of `+`
    literal: str | None = None
    formatted: tuple[str, str] | None = None
    #: for a string built by concatenation, its parts (so `a + b + c` becomes one f-string)
    parts: "list[_Val] | None" = None


@dataclass(slots=True)
class _Line:
    indent: int
    text: str
    pos: tuple[int, int]
    #: the calls written into this line: (the text that starts the call, Noodle line, column)
    calls: tuple = ()


@dataclass
class _Fn:
    code: FunctionCode
    lines: list[_Line] = field(default_factory=list)
    globals_stored: set[int] = field(default_factory=set)
    temps: int = 0
    calls: list = field(default_factory=list)  # call sites since the last emitted line
    nonlocals: set[str] = field(default_factory=set)


class TranslateError(Exception):
    pass


SKIP_LOW, SKIP_HIGH = 1, 2


def checked(op: Op, x: str, y: str, y_const: int | None, skip: int = 0) -> str:
    """An int operation with the overflow checks it still needs.

    `skip` holds the bounds the optimiser proved (bit 0 lower, bit 1 upper).
    A constant right operand settles one more: `n - 1` can only fall below the
    range, `n + 1` only rise above it.
    """
    expr = f"{x} {_CHECKED_BINARY[op]} {y}"
    if y_const is not None and op in (Op.IADD, Op.ISUB):
        rises = (y_const >= 0) == (op is Op.IADD)
        skip |= SKIP_LOW if rises else SKIP_HIGH
        if y_const == 0:
            skip = SKIP_LOW | SKIP_HIGH
    if y_const is not None and (op is Op.IFLOORDIV and y_const != -1 or op is Op.IMUL and y_const in (0, 1)):
        skip = SKIP_LOW | SKIP_HIGH  # only MIN // -1 overflows a floor division
    if skip == SKIP_LOW | SKIP_HIGH:
        return f"({expr})"
    if skip == SKIP_LOW:
        return f"(_t if (_t := {expr}) <= {MAX} else _ovf())"
    if skip == SKIP_HIGH:
        return f"(_t if (_t := {expr}) >= {MIN} else _ovf())"
    return _CHECKED.format(lo=MIN, hi=MAX, expr=expr)


def _fstring_literal(s: str) -> str:
    """`s` as literal text inside a single-quoted f-string."""
    out = []
    for ch in s:
        if ch in "{}":
            out.append(ch * 2)
        elif ch == "\\" or ch == "'":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def build_string(vals: "list[_Val]") -> str:
    """Concatenate string values: one f-string where the parts allow it (CPython builds it in one step)."""
    if not vals:
        return "''"
    if len(vals) > 1:
        pieces = []
        for v in vals:
            if v.literal is not None:
                pieces.append(_fstring_literal(v.literal))
                continue
            expr, conv = v.formatted if v.formatted is not None else (v.text, "")
            if any(c in expr for c in "'\"\\{}#"):  # f-string expressions of Python 3.11 cannot hold these
                break
            pieces.append("{" + expr + conv + "}")
        else:
            return "f'" + "".join(pieces) + "'"
    return "(" + " + ".join(v.text for v in vals) + ")"


#: Deepest bracket nesting allowed in one generated expression (CPython's parser stops at 200).
MAX_EXPR_NESTING = 40


def _too_deep(text: str) -> bool:
    if len(text) < 4 * MAX_EXPR_NESTING:
        return False
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in ")]}":
            depth -= 1
    return deepest > MAX_EXPR_NESTING


class Translator:
    def __init__(self, module: ModuleFile, metered: bool = False, cells: bool = False) -> None:
        self.m = module
        #: metered code counts steps (each call and loop iteration) and call depth for a sandbox's limits
        self.metered = metered
        #: module variables and top-level functions are reached through cells (`g3.v`, `f2.v(...)`):
        #: the REPL shares one cell per name between a session's versions (noodle.tools.repl.session)
        self.cells = cells
        self.native_names: dict[int, str] = {}
        self.children: dict[int, list[int]] = {}
        for i, f in enumerate(module.functions):
            if f.parent >= 0:
                self.children.setdefault(f.parent, []).append(i)

    # ------------------------------------------------------------ names

    def func_ref(self, index: int) -> str:
        """A function as code names it: a lambda is its enclosing function's local `def`."""
        return f"f{index}.v" if self.cells and self.m.functions[index].parent < 0 else f"f{index}"

    def local(self, fn: FunctionCode, slot: int) -> str:
        return f"v{fn.depth}_{slot}"

    def const(self, k: int) -> str:
        v = self.m.consts[k]
        if isinstance(v, bool) or v is None:
            return repr(v)
        if isinstance(v, int):
            return repr(v) if v >= 0 else f"({v!r})"
        if isinstance(v, float):
            if math.isnan(v):
                return "_NAN"
            if math.isinf(v):
                return "_INF" if v > 0 else "_NINF"
            return repr(v) if v >= 0 and not (v == 0 and math.copysign(1, v) < 0) else f"({v!r})"
        return repr(v)

    def int_const(self, v: _Val) -> int | None:
        """The value of an int constant on the stack, if `v` is one."""
        try:
            n = int(v.text.strip("()"))
        except ValueError:
            return None
        return n

    def native_ref(self, name_ix: int) -> str:
        self.native_names[name_ix] = self.m.names[name_ix]
        return f"n{name_ix}"

    # ------------------------------------------------------------ driver

    def translate(self) -> tuple[str, dict[int, tuple[str, int, int]]]:
        """Python source for the whole module and its line map (python line → display, line, col)."""
        out: list[str] = []
        linemap: dict[int, tuple[str, int, int]] = {}
        for i, f in enumerate(self.m.functions):
            if f.parent < 0:
                self.function(i, 0, out, linemap)
        return "\n".join(out) + "\n", linemap

    def function(self, index: int, indent: int, out: list[str], linemap: dict[int, tuple[str, int, int]]) -> None:
        f = self.m.functions[index]
        st = _Fn(f)
        end = self.block(st, 0, 1)
        if end != len(f.lines):
            raise TranslateError(f"function {f.name!r}: unexpected {OPS[f.code[end * 4]].name} at {end}")
        params = ", ".join(self.local(f, s) for s in range(f.nparams))
        pad = "    " * indent
        first_line = (f.lines[0], f.cols[0])  # verified code: a function ends with RETURN, RETURN_NONE or THROW
        out.append(f"{pad}def f{index}({params}):")
        linemap[len(out)] = (f.display, *first_line)
        if st.globals_stored and not self.cells:
            out.append(f"{pad}    global " + ", ".join(f"g{g}" for g in sorted(st.globals_stored)))
        if st.nonlocals:
            out.append(f"{pad}    nonlocal " + ", ".join(sorted(st.nonlocals)))
        for child in self.children.get(index, []):
            self.function(child, indent + 1, out, linemap)
        extra = 0
        if self.metered:
            # one step per call, and the call depth a sandbox allows; `_m` is the thread's meter
            for text in ("_m = _M", "_m.steps -= 1", "if _m.steps < 0: _m.refill()",
                         "if _m.depth >= _m.max_depth: _m.too_deep()", "_m.depth += 1", "try:"):
                out.append(f"{pad}    {text}")
                linemap[len(out)] = (f.display, *first_line)
            extra = 1
        for line in st.lines:  # never none: block() writes at least a `pass`
            out.append("    " * (indent + line.indent + extra) + line.text)
            linemap[len(out)] = (f.display, line.pos[0], line.pos[1], line.calls) if line.calls \
                else (f.display, line.pos[0], line.pos[1])
        if self.metered:
            out.append(f"{pad}    finally:")
            out.append(f"{pad}        _m.depth -= 1")

    # ------------------------------------------------------------ statements

    def emit(self, st: _Fn, indent: int, text: str, pc: int) -> None:
        f = st.code
        st.lines.append(_Line(indent, text, (f.lines[pc], f.cols[pc]), tuple(st.calls)))
        st.calls.clear()

    def call_site(self, st: _Fn, text: str, pc: int) -> str:
        """Remember a call's text and position, so an error's stack can name the call, not only its statement."""
        st.calls.append((text, st.code.lines[pc], st.code.cols[pc]))
        return text

    def block(self, st: _Fn, pc: int, indent: int) -> int:
        """Translate statements from `pc` up to a mid/close op (or the end); return its index."""
        f = st.code
        code = f.code
        n = len(f.lines)
        stack: list[_Val] = []
        start_len = len(st.lines)
        while pc < n:
            op = code[pc * 4]
            info = OPS[op]
            if info.role in ("mid", "close"):
                break
            pc = self.step(st, pc, indent, stack)
            if stack and _too_deep(stack[-1].text):  # (statements are never inside a region)
                self.spill(st, pc - 1, indent, stack)
        if stack:
            raise TranslateError("values left on the stack at the end of a block")
        if len(st.lines) == start_len:  # ended by the mid or close op at `pc` (a function's end is a statement)
            self.emit(st, indent, "pass", pc)
        return pc

    def spill(self, st: _Fn, pc: int, indent: int, stack: list[_Val]) -> None:
        """Evaluate every pending value into a temporary, bottom first (evaluation order is kept).

        Long expressions (`a + b + c + ...` over a hundred terms) would otherwise
        nest past what CPython's parser accepts.
        """
        for k, v in enumerate(stack):
            st.temps += 1
            name = f"_s{st.temps}"
            self.emit(st, indent, f"{name} = {v.text}", pc)
            stack[k] = _Val(name)

    def expr_region(self, st: _Fn, pc: int, stack: list[_Val], closer: Op) -> tuple[_Val, int]:
        """Translate an expression region; return its value and the index of the op that closed it."""
        f = st.code
        n = len(f.lines)
        base = len(stack)
        spilled: list[str] = []
        while pc < n and f.code[pc * 4] != closer:
            pc = self.step(st, pc, 0, stack)
            if len(stack) > base and _too_deep(stack[-1].text):
                spilled += self.spill_in_region(st, stack, base)
        if pc >= n or len(stack) != base + 1:
            raise TranslateError("malformed expression region")
        value = stack.pop()
        if spilled:  # the assignments run in order, inside the region, and the list's last item is its value
            value = _Val("[" + ", ".join([*spilled, value.text]) + "][-1]")
        return value, pc

    def spill_in_region(self, st: _Fn, stack: list[_Val], base: int) -> list[str]:
        """Assignment expressions that evaluate the region's own pending values into temporaries.

        A region runs only when its condition says so, so its long expressions cannot be spilled
        into statements before it: they are spilled inside it, as `_s1 := ...` items of a list
        whose last item is the region's value (one bracket level, however long the expression).
        Values below `base` belong to the enclosing expression and stay where they are.
        """
        out = []
        for k in range(base, len(stack)):
            st.temps += 1
            name = f"_s{st.temps}"
            out.append(f"{name} := {stack[k].text}")
            stack[k] = _Val(name)
        return out

    def step(self, st: _Fn, pc: int, indent: int, stack: list[_Val]) -> int:
        """Translate the instruction at `pc` (and any region it opens); return the next pc."""
        f = st.code
        i = pc * WORDS_PER_INSTR
        op = f.code[i]
        handler = _STEPS[op] if 0 <= op < NUM_OPS else None
        if handler is None:  # not an opcode (each opcode has its handler: translated_ops)
            raise TranslateError(f"unexpected {op} at {pc}")
        return handler(self, st, f, Op(op), pc, indent, stack, f.code[i + 1], f.code[i + 2], f.code[i + 3])

    # ---- one handler per opcode (or group of opcodes), registered in _STEPS after the class

    def _const(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        v = self.m.consts[a]
        stack.append(_Val(self.const(a), literal=v if isinstance(v, str) else None))
        return pc + 1

    def _load_local(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(self.local(f, a)))
        return pc + 1

    def _load_free(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(f"v{f.depth - a}_{b}"))
        return pc + 1

    def _load_global(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(f"g{a}.v" if self.cells else f"g{a}"))
        return pc + 1

    def _load_func_make_closure(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(self.func_ref(a)))
        return pc + 1

    def _load_mod(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(f"M{a}[{self.m.names[b]!r}]"))
        return pc + 1

    def _checked_binary(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        y, x = stack.pop(), stack.pop()
        stack.append(_Val(checked(op, x.text, y.text, self.int_const(y), a)))
        return pc + 1

    def _plain_binary(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        y, x = stack.pop(), stack.pop()
        xt, yt = x.text, y.text
        if self.metered and op in (Op.LCONCAT, Op.IN, Op.NOT_IN):  # work that grows with the operands is charged
            call = f"_lcat({xt}, {yt})" if op is Op.LCONCAT else f"_contains({xt}, {yt})"
            stack.append(_Val(call if op is not Op.NOT_IN else f"(not {call})"))
            return pc + 1
        if self.metered and op in _COMPARISONS:  # comparing strings, lists, structs: charged by their size
            stack.append(_Val(f"{_COMPARISONS[op]}({xt}, {yt})"))
            return pc + 1
        if op in _FLOAT_ARITH:
            if x.inner is not None and y.inner is None:
                xt = x.inner
            elif y.inner is not None and x.inner is None:
                yt = y.inner
        stack.append(_Val(f"({xt} {_PLAIN_BINARY[op]} {yt})"))
        return pc + 1

    def _ipow(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        y, x = stack.pop().text, stack.pop().text
        stack.append(_Val(f"_ipow({x}, {y})"))
        return pc + 1

    def _fpow(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        y, x = stack.pop().text, stack.pop().text
        stack.append(_Val(f"_fpow({x}, {y})"))
        return pc + 1

    def _shl(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        y, x = stack.pop().text, stack.pop().text
        stack.append(_Val(f"_shl({x}, {y})"))
        return pc + 1

    def _shr(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        y, x = stack.pop().text, stack.pop().text
        stack.append(_Val(f"_shr({x}, {y})"))
        return pc + 1

    def _srepeat(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        y, x = stack.pop().text, stack.pop().text
        stack.append(_Val(f"_srepeat({x}, {y})"))
        return pc + 1

    def _ineg(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        # only -MIN leaves the range
        x = stack.pop().text
        stack.append(_Val(f"(-{x})" if a & SKIP_HIGH else f"(_t if (_t := -{x}) <= {MAX} else _ovf())"))
        return pc + 1

    def _fneg(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(f"(-{stack.pop().text})"))
        return pc + 1

    def _i2f(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        x = stack.pop().text
        stack.append(_Val(f"float({x})", inner=x))
        return pc + 1

    def _not(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(f"(not {stack.pop().text})"))
        return pc + 1

    def _to_str(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(f"_str({stack.pop().text})"))
        return pc + 1

    def _build_list(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val("[" + ", ".join(_args(stack, a)) + "]"))
        return pc + 1

    def _build_tuple(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        items = _args(stack, a)
        stack.append(_Val("(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"))
        return pc + 1

    def _build_map(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        flat = _args(stack, 2 * a)
        stack.append(_Val("{" + ", ".join(f"{flat[j]}: {flat[j + 1]}" for j in range(0, len(flat), 2)) + "}"))
        return pc + 1

    def _build_str_sconcat(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        n = a if op is Op.BUILD_STR else 2
        vals = stack[len(stack) - n:] if n else []
        del stack[len(stack) - len(vals):]
        flat = [p for v in vals for p in (v.parts or [v])]
        if self.metered:  # charged by the length it builds
            stack.append(_Val("_scat(" + ", ".join(v.text for v in flat) + ")", parts=flat))
        else:
            stack.append(_Val(build_string(flat), parts=flat))
        return pc + 1

    def _i2s(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        x = stack.pop().text
        stack.append(_Val(f"str({x})", formatted=(x, "")))
        return pc + 1

    def _f2s(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        x = stack.pop().text
        stack.append(_Val(f"repr({x})", formatted=(x, "!r")))  # repr of a float is Noodle's text: 0.1, 1e-09, inf
        return pc + 1

    def _build_range(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        hi, lo = stack.pop().text, stack.pop().text
        stack.append(_Val(f"_range_incl({lo}, {hi})" if a else f"range({lo}, {hi})"))
        return pc + 1

    def _index(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        k, x = stack.pop().text, stack.pop().text
        stack.append(_Val(f"{x}[{k}]"))
        return pc + 1

    def _slice(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        hi = stack.pop().text if b else ""
        lo = stack.pop().text if a else ""
        x = stack.pop().text
        if self.metered:  # charged by what it copies
            stack.append(_Val(f"_slice({x}, {lo or 'None'}, {hi or 'None'})"))
        else:
            stack.append(_Val(f"{x}[{lo}:{hi}]"))
        return pc + 1

    def _get_field(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(f"{_atom(stack.pop().text)}.f_{self.m.names[a]}"))
        return pc + 1

    def _tuple_get(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(f"{stack.pop().text}[{a}]"))
        return pc + 1

    def _new(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(f"S{a}(" + ", ".join(_args(stack, b)) + ")"))
        return pc + 1

    def _call(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(self.call_site(st, f"{self.func_ref(a)}(" + ", ".join(_args(stack, b)) + ")", pc)))
        return pc + 1

    def _call_mod(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        stack.append(_Val(self.call_site(st, f"M{a}[{self.m.names[b]!r}](" + ", ".join(_args(stack, c)) + ")", pc)))
        return pc + 1

    def _call_value(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        xs = _args(stack, a)
        fn = stack.pop().text
        stack.append(_Val(self.call_site(st, f"{fn}(" + ", ".join(xs) + ")", pc)))
        return pc + 1

    def _call_native(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        xs = _args(stack, b)
        nat = NATIVES[self.m.names[a]]
        if nat.inline is not None and not (self.metered and nat.name in COSTS):  # a charged native is called
            stack.append(_Val("(" + nat.inline.format(*map(_atom, xs)) + ")"))
        else:
            stack.append(_Val(self.call_site(st, f"{self.native_ref(a)}(" + ", ".join(xs) + ")", pc)))
        return pc + 1

    def _and_or(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        left = stack.pop().text
        right, end = self.expr_region(st, pc + 1, stack, Op.END_EXPR)
        stack.append(_Val(f"({left} {'and' if op is Op.AND else 'or'} {right.text})"))
        return end + 1

    def _cond(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        cond = stack.pop().text
        then, mid = self.expr_region(st, pc + 1, stack, Op.ELSE_EXPR)
        other, end = self.expr_region(st, mid + 1, stack, Op.END_EXPR)
        stack.append(_Val(f"({then.text} if {cond} else {other.text})"))
        return end + 1

    def _nop(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        return pc + 1

    def _store_local(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, f"{self.local(f, a)} = {stack.pop().text}", pc)
        return pc + 1

    def _store_free(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        target = f"v{f.depth - a}_{b}"
        st.nonlocals.add(target)
        self.emit(st, indent, f"{target} = {stack.pop().text}", pc)
        return pc + 1

    def _store_global(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        st.globals_stored.add(a)
        self.emit(st, indent, f"g{a}{'.v' if self.cells else ''} = {stack.pop().text}", pc)
        return pc + 1

    def _pop(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, stack.pop().text, pc)
        return pc + 1

    def _store_index(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        # value, obj, index: the value is evaluated first, as in Python
        k, x, v = stack.pop().text, stack.pop().text, stack.pop().text
        self.emit(st, indent, f"{x}[{k}] = {v}", pc)
        return pc + 1

    def _set_field(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        # value, obj
        x, v = stack.pop().text, stack.pop().text
        self.emit(st, indent, f"{_atom(x)}.f_{self.m.names[a]} = {v}", pc)
        return pc + 1

    def _return(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, f"return {stack.pop().text}", pc)
        return pc + 1

    def _return_none(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, "return None", pc)
        return pc + 1

    def _throw(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, f"raise _throw({stack.pop().text})", pc)
        return pc + 1

    def _assert(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        msg, cond = stack.pop().text, stack.pop().text
        self.emit(st, indent, f"if not {cond}: raise _assert_fail({msg})", pc)
        return pc + 1

    def _break(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, "break", pc)
        return pc + 1

    def _continue(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, "continue", pc)
        return pc + 1

    def _break_if_false(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, f"if not {stack.pop().text}: break", pc)
        return pc + 1

    def _if(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, f"if {stack.pop().text}:", pc)
        end = self.block(st, pc + 1, indent + 1)
        if f.code[end * 4] == Op.ELSE:
            self.emit(st, indent, "else:", end)
            end = self.block(st, end + 1, indent + 1)
        return self.expect_end(st, end)

    def _loop(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        # `while cond:` when the loop starts with its condition, else `while True:`; the probe
        # translates the plain expression ops at the start (they emit no lines, only call sites)
        probe: list[_Val] = []
        q = pc + 1
        while q < len(f.lines) and OPS[f.code[q * 4]].role == "expr":
            q = self.step(st, q, 0, probe)
        # a condition too long for one line is computed in the loop body
        if len(probe) == 1 and not _too_deep(probe[0].text) and q < len(f.lines) \
                and f.code[q * 4] == Op.BREAK_IF_FALSE:
            self.emit(st, indent, f"while {probe[0].text}:", pc)
            self.tick(st, indent + 1, pc)
            end = self.block(st, q + 1, indent + 1)
        else:  # the body translates the probe's ops again: their call sites go (a statement starts
            st.calls.clear()  # with none pending, the stack being empty)
            self.emit(st, indent, "while True:", pc)
            self.tick(st, indent + 1, pc)
            end = self.block(st, pc + 1, indent + 1)
        return self.expect_end(st, end)

    def _for_range(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        step, stop, start = stack.pop().text, stack.pop().text, stack.pop().text
        if step == "1":
            rng = f"range({stop})" if start == "0" else f"range({start}, {stop})"
        else:
            rng = f"range({start}, {stop}, {step})"
        self.emit(st, indent, f"for {self.local(f, a)} in {rng}:", pc)
        self.tick(st, indent + 1, pc)
        return self.expect_end(st, self.block(st, pc + 1, indent + 1))

    def _for_each(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, f"for {self.local(f, a)} in {stack.pop().text}:", pc)
        self.tick(st, indent + 1, pc)
        return self.expect_end(st, self.block(st, pc + 1, indent + 1))

    def _try(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        self.emit(st, indent, "try:", pc)
        mid = self.block(st, pc + 1, indent + 1)
        i2 = mid * WORDS_PER_INSTR
        if f.code[i2] != Op.CATCH:
            raise TranslateError("TRY without CATCH")
        self.emit(st, indent, "except _Exception as _e:", mid)
        if f.code[i2 + 3]:
            self.emit(st, indent + 1, f"{self.local(f, f.code[i2 + 1])} = _catch(_e)", mid)
        else:  # `_catch` lets the host's own exceptions through, whether or not the error is bound
            self.emit(st, indent + 1, "_catch(_e)", mid)
        return self.expect_end(st, self.block(st, mid + 1, indent + 1))

    def _region_marker(self, st: _Fn, f: FunctionCode, op: Op, pc: int, indent: int, stack: list[_Val],
            a: int, b: int, c: int) -> int:
        # the op that opens a region translates its middle and end; met here, one stands alone
        raise TranslateError(f"{op.name} outside the region it belongs to, at {pc}")

    def tick(self, st: _Fn, indent: int, pc: int) -> None:
        """In metered code, one step for a loop iteration (the budget is checked in chunks)."""
        if self.metered:
            self.emit(st, indent, "_m.steps -= 1", pc)
            self.emit(st, indent, "if _m.steps < 0: _m.refill()", pc)

    def expect_end(self, st: _Fn, end: int) -> int:
        f = st.code
        if end >= len(f.lines) or f.code[end * 4] != Op.END:
            raise TranslateError("region not closed by END")
        return end + 1


#: opcode -> the Translator method that translates it.  A table rather than a decorator on each
#: method: mutmut does not mutate decorated functions, and these are most of the translator.
_STEPS: "list[Callable[..., int] | None]" = [None] * NUM_OPS
for _handler, _ops in (
    (Translator._const, (Op.CONST,)),
    (Translator._load_local, (Op.LOAD_LOCAL,)),
    (Translator._load_free, (Op.LOAD_FREE,)),
    (Translator._load_global, (Op.LOAD_GLOBAL,)),
    (Translator._load_func_make_closure, (Op.LOAD_FUNC, Op.MAKE_CLOSURE)),
    (Translator._load_mod, (Op.LOAD_MOD,)),
    (Translator._checked_binary, _CHECKED_BINARY),
    (Translator._plain_binary, _PLAIN_BINARY),
    (Translator._ipow, (Op.IPOW,)),
    (Translator._fpow, (Op.FPOW,)),
    (Translator._shl, (Op.SHL,)),
    (Translator._shr, (Op.SHR,)),
    (Translator._srepeat, (Op.SREPEAT,)),
    (Translator._ineg, (Op.INEG,)),
    (Translator._fneg, (Op.FNEG,)),
    (Translator._i2f, (Op.I2F,)),
    (Translator._not, (Op.NOT,)),
    (Translator._to_str, (Op.TO_STR,)),
    (Translator._build_list, (Op.BUILD_LIST,)),
    (Translator._build_tuple, (Op.BUILD_TUPLE,)),
    (Translator._build_map, (Op.BUILD_MAP,)),
    (Translator._build_str_sconcat, (Op.BUILD_STR, Op.SCONCAT)),
    (Translator._i2s, (Op.I2S,)),
    (Translator._f2s, (Op.F2S,)),
    (Translator._build_range, (Op.BUILD_RANGE,)),
    (Translator._index, (Op.INDEX,)),
    (Translator._slice, (Op.SLICE,)),
    (Translator._get_field, (Op.GET_FIELD,)),
    (Translator._tuple_get, (Op.TUPLE_GET,)),
    (Translator._new, (Op.NEW,)),
    (Translator._call, (Op.CALL,)),
    (Translator._call_mod, (Op.CALL_MOD,)),
    (Translator._call_value, (Op.CALL_VALUE,)),
    (Translator._call_native, (Op.CALL_NATIVE,)),
    (Translator._and_or, (Op.AND, Op.OR)),
    (Translator._cond, (Op.COND,)),
    (Translator._nop, (Op.NOP,)),
    (Translator._store_local, (Op.STORE_LOCAL,)),
    (Translator._store_free, (Op.STORE_FREE,)),
    (Translator._store_global, (Op.STORE_GLOBAL,)),
    (Translator._pop, (Op.POP,)),
    (Translator._store_index, (Op.STORE_INDEX,)),
    (Translator._set_field, (Op.SET_FIELD,)),
    (Translator._return, (Op.RETURN,)),
    (Translator._return_none, (Op.RETURN_NONE,)),
    (Translator._throw, (Op.THROW,)),
    (Translator._assert, (Op.ASSERT,)),
    (Translator._break, (Op.BREAK,)),
    (Translator._continue, (Op.CONTINUE,)),
    (Translator._break_if_false, (Op.BREAK_IF_FALSE,)),
    (Translator._if, (Op.IF,)),
    (Translator._loop, (Op.LOOP,)),
    (Translator._for_range, (Op.FOR_RANGE,)),
    (Translator._for_each, (Op.FOR_EACH,)),
    (Translator._try, (Op.TRY,)),
    (Translator._region_marker, (Op.ELSE, Op.CATCH, Op.END, Op.ELSE_EXPR, Op.END_EXPR)),
):
    for _op in _ops:
        assert _STEPS[_op] is None, f"two translations of {_op.name}"
        _STEPS[_op] = _handler
del _handler, _ops, _op


def translate_module(module: ModuleFile, metered: bool = False, cells: bool = False) -> tuple[
        str, dict[int, tuple[str, int, int]], dict[str, str]]:
    """Python source of a verified module, its line map, and the natives it calls by name.

    `metered` code counts steps and call depth against a meter `_M` (see :mod:`noodle.vm.limits`);
    `cells` code reaches module variables and functions through cells (see :class:`Translator`).
    """
    t = Translator(module, metered, cells)
    try:
        source, linemap = t.translate()
    except TranslateError as e:
        raise LoadError(f"cannot translate bytecode: {e}") from None
    except (IndexError, KeyError) as e:  # an operand stack or a table read past its end: not verified code
        raise LoadError(f"cannot translate bytecode: malformed ({type(e).__name__}: {e})") from None
    natives = {f"n{ix}": name for ix, name in t.native_names.items()}
    return source, linemap, natives
