"""The one opcode table.

Everything that reads or writes bytecode — the emitter, the loader's verifier,
the translator that turns verified bytecode into Python code, and the
disassembler — is driven by :data:`OPS` (as Lua's lopcodes.h drives its VM).

An instruction is four integers `(op, a, b, c)`.  The bytecode is a stack
machine with *structured* control flow in the manner of WebAssembly: `IF`,
`LOOP`, `FOR_*`, `TRY` and the short-circuit/conditional expression ops open
a region closed by `END`/`END_EXPR`, and their jump operand names the index
of that closing instruction.  The verifier checks that regions nest, that
every jump operand names its own region's end, that the operand stack is
empty at statement boundaries and never underflows, and that every index
(constant, local, name, function) is in range.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Callable

# Operand kinds
NONE = ""
CONST = "const"      # index into the module's constant pool
LOCAL = "local"      # local slot of the current function
UP = "up"            # levels out to an enclosing function (closures)
NAME = "name"        # index into the module's name pool
FUNC = "func"        # index into the module's function table
COUNT = "count"      # an argument / element count
TARGET = "target"    # index of the instruction closing this region
FLAG = "flag"        # 0 or 1
INDEX = "index"      # a small non-negative integer (tuple position)
MODULE = "module"    # index into the module's import table
GLOBAL = "global"    # index into the module's global table
STRUCT = "struct"    # index into the module's struct table
FIELD = "field"      # index into the name pool; the name must be an identifier
CHECK = "check"      # overflow checks an int op may skip: bit 0 the lower bound, bit 1 the upper (0: both)


@dataclass(frozen=True, slots=True)
class OpInfo:
    name: str
    operands: tuple[str, str, str]
    #: (a, b, c) -> (pops, pushes)
    effect: Callable[[int, int, int], tuple[int, int]]
    #: "expr" ops compute values; "stmt" ops need an empty stack afterwards;
    #: "open"/"mid"/"close" structure regions.
    role: str = "expr"
    doc: str = ""


def _fixed(pops: int, pushes: int) -> Callable[[int, int, int], tuple[int, int]]:
    return lambda a, b, c: (pops, pushes)


_BIN = _fixed(2, 1)
_UN = _fixed(1, 1)

_TABLE: list[OpInfo] = [
    OpInfo("NOP", (NONE, NONE, NONE), _fixed(0, 0), "stmt", "does nothing"),
    # values
    OpInfo("CONST", (CONST, NONE, NONE), _fixed(0, 1), doc="push constant a"),
    OpInfo("LOAD_LOCAL", (LOCAL, NONE, NONE), _fixed(0, 1)),
    OpInfo("STORE_LOCAL", (LOCAL, NONE, NONE), _fixed(1, 0), "stmt"),
    OpInfo("LOAD_FREE", (UP, LOCAL, NONE), _fixed(0, 1), doc="local b of the function a levels out"),
    OpInfo("STORE_FREE", (UP, LOCAL, NONE), _fixed(1, 0), "stmt"),
    OpInfo("LOAD_GLOBAL", (GLOBAL, NONE, NONE), _fixed(0, 1)),
    OpInfo("STORE_GLOBAL", (GLOBAL, NONE, NONE), _fixed(1, 0), "stmt"),
    OpInfo("LOAD_FUNC", (FUNC, NONE, NONE), _fixed(0, 1)),
    OpInfo("LOAD_MOD", (MODULE, NAME, NONE), _fixed(0, 1), doc="export b of imported module a"),
    OpInfo("MAKE_CLOSURE", (FUNC, NONE, NONE), _fixed(0, 1)),
    OpInfo("POP", (NONE, NONE, NONE), _fixed(1, 0), "stmt"),
    # int arithmetic (overflow-checked)
    OpInfo("IADD", (CHECK, NONE, NONE), _BIN, doc="a: bounds proven (see CHECK)"),
    OpInfo("ISUB", (CHECK, NONE, NONE), _BIN),
    OpInfo("IMUL", (CHECK, NONE, NONE), _BIN),
    OpInfo("IFLOORDIV", (CHECK, NONE, NONE), _BIN),
    OpInfo("IMOD", (NONE,) * 3, _BIN),
    OpInfo("IPOW", (NONE,) * 3, _BIN),
    OpInfo("INEG", (CHECK, NONE, NONE), _UN),
    OpInfo("SHL", (NONE,) * 3, _BIN),
    OpInfo("SHR", (NONE,) * 3, _BIN),
    OpInfo("BAND", (NONE,) * 3, _BIN),
    OpInfo("BOR", (NONE,) * 3, _BIN),
    OpInfo("BXOR", (NONE,) * 3, _BIN),
    # float arithmetic (also int/int true division)
    OpInfo("FADD", (NONE,) * 3, _BIN),
    OpInfo("FSUB", (NONE,) * 3, _BIN),
    OpInfo("FMUL", (NONE,) * 3, _BIN),
    OpInfo("FDIV", (NONE,) * 3, _BIN),
    OpInfo("FFLOORDIV", (NONE,) * 3, _BIN),
    OpInfo("FMOD", (NONE,) * 3, _BIN),
    OpInfo("FPOW", (NONE,) * 3, _BIN),
    OpInfo("FNEG", (NONE,) * 3, _UN),
    OpInfo("I2F", (NONE,) * 3, _UN),
    # other values
    OpInfo("NOT", (NONE,) * 3, _UN),
    OpInfo("TO_STR", (NONE,) * 3, _UN, doc="Noodle text of a value"),
    OpInfo("I2S", (NONE,) * 3, _UN, doc="text of an int (TO_STR when the static type is int)"),
    OpInfo("F2S", (NONE,) * 3, _UN, doc="text of a float (TO_STR when the static type is float)"),
    OpInfo("SCONCAT", (NONE,) * 3, _BIN),
    OpInfo("SREPEAT", (NONE,) * 3, _BIN),
    OpInfo("LCONCAT", (NONE,) * 3, _BIN),
    OpInfo("EQ", (NONE,) * 3, _BIN),
    OpInfo("NE", (NONE,) * 3, _BIN),
    OpInfo("LT", (NONE,) * 3, _BIN),
    OpInfo("LE", (NONE,) * 3, _BIN),
    OpInfo("GT", (NONE,) * 3, _BIN),
    OpInfo("GE", (NONE,) * 3, _BIN),
    OpInfo("IN", (NONE,) * 3, _BIN),
    OpInfo("NOT_IN", (NONE,) * 3, _BIN),
    OpInfo("BUILD_LIST", (COUNT, NONE, NONE), lambda a, b, c: (a, 1)),
    OpInfo("BUILD_MAP", (COUNT, NONE, NONE), lambda a, b, c: (2 * a, 1), doc="a key/value pairs"),
    OpInfo("BUILD_TUPLE", (COUNT, NONE, NONE), lambda a, b, c: (a, 1)),
    OpInfo("BUILD_STR", (COUNT, NONE, NONE), lambda a, b, c: (a, 1), doc="concatenate a strings"),
    OpInfo("BUILD_RANGE", (FLAG, NONE, NONE), _fixed(2, 1), doc="lo..hi, inclusive when a"),
    OpInfo("INDEX", (NONE,) * 3, _BIN),
    OpInfo("STORE_INDEX", (NONE,) * 3, _fixed(3, 0), "stmt", "value, obj, index (value first, as in Python)"),
    OpInfo("SLICE", (FLAG, FLAG, NONE), lambda a, b, c: (1 + a + b, 1), doc="a: lo given, b: hi given"),
    OpInfo("GET_FIELD", (FIELD, NONE, NONE), _UN),
    OpInfo("SET_FIELD", (FIELD, NONE, NONE), _fixed(2, 0), "stmt", "value, obj"),
    OpInfo("TUPLE_GET", (INDEX, NONE, NONE), _UN),
    OpInfo("NEW", (STRUCT, COUNT, NONE), lambda a, b, c: (b, 1), doc="struct a from b field values"),
    # calls
    OpInfo("CALL", (FUNC, COUNT, NONE), lambda a, b, c: (b, 1)),
    OpInfo("CALL_MOD", (MODULE, NAME, COUNT), lambda a, b, c: (c, 1)),
    OpInfo("CALL_VALUE", (COUNT, NONE, NONE), lambda a, b, c: (a + 1, 1), doc="callee below the a arguments"),
    OpInfo("CALL_NATIVE", (NAME, COUNT, NONE), lambda a, b, c: (b, 1)),
    # structured control flow
    OpInfo("IF", (TARGET, NONE, NONE), _fixed(1, 0), "open", "a: the ELSE or END of this if"),
    OpInfo("ELSE", (TARGET, NONE, NONE), _fixed(0, 0), "mid", "a: the END of this if"),
    OpInfo("LOOP", (TARGET, NONE, NONE), _fixed(0, 0), "open", "repeat until BREAK; a: END"),
    OpInfo("BREAK_IF_FALSE", (NONE,) * 3, _fixed(1, 0), "stmt"),
    OpInfo("BREAK", (NONE,) * 3, _fixed(0, 0), "stmt"),
    OpInfo("CONTINUE", (NONE,) * 3, _fixed(0, 0), "stmt"),
    OpInfo("FOR_RANGE", (LOCAL, TARGET, NONE), _fixed(3, 0), "open", "start, stop, step; a: slot; b: END"),
    OpInfo("FOR_EACH", (LOCAL, TARGET, NONE), _fixed(1, 0), "open", "iterable; a: slot; b: END"),
    OpInfo("TRY", (TARGET, NONE, NONE), _fixed(0, 0), "open", "a: the CATCH"),
    OpInfo("CATCH", (LOCAL, TARGET, FLAG), _fixed(0, 0), "mid", "a: slot for the error (if c); b: END"),
    OpInfo("END", (NONE,) * 3, _fixed(0, 0), "close"),
    OpInfo("RETURN", (NONE,) * 3, _fixed(1, 0), "stmt"),
    OpInfo("RETURN_NONE", (NONE,) * 3, _fixed(0, 0), "stmt"),
    OpInfo("THROW", (NONE,) * 3, _fixed(1, 0), "stmt"),
    OpInfo("ASSERT", (NONE,) * 3, _fixed(2, 0), "stmt", "cond, message"),
    # expression-level regions: each sub-region leaves exactly one value
    OpInfo("AND", (TARGET, NONE, NONE), _fixed(1, 0), "xopen", "left; right region up to END_EXPR a"),
    OpInfo("OR", (TARGET, NONE, NONE), _fixed(1, 0), "xopen"),
    OpInfo("COND", (TARGET, NONE, NONE), _fixed(1, 0), "xopen", "cond; then region up to ELSE_EXPR a"),
    OpInfo("ELSE_EXPR", (TARGET, NONE, NONE), _fixed(0, 0), "xmid", "a: END_EXPR"),
    OpInfo("END_EXPR", (NONE,) * 3, _fixed(0, 0), "xclose", "the region value becomes the result"),
]

Op = IntEnum("Op", [(info.name, i) for i, info in enumerate(_TABLE)])  # type: ignore[misc]
OPS: tuple[OpInfo, ...] = tuple(_TABLE)
BY_NAME: dict[str, int] = {info.name: i for i, info in enumerate(_TABLE)}
NUM_OPS = len(OPS)

#: Binary operator opcodes by their IR operator name.
BINARY_OPS: dict[str, Op] = {
    "int.add": Op.IADD, "int.sub": Op.ISUB, "int.mul": Op.IMUL, "int.floordiv": Op.IFLOORDIV,
    "int.mod": Op.IMOD, "int.pow": Op.IPOW, "int.shl": Op.SHL, "int.shr": Op.SHR,
    "int.and": Op.BAND, "int.or": Op.BOR, "int.xor": Op.BXOR,
    "float.add": Op.FADD, "float.sub": Op.FSUB, "float.mul": Op.FMUL, "float.div": Op.FDIV,
    "float.floordiv": Op.FFLOORDIV, "float.mod": Op.FMOD, "float.pow": Op.FPOW,
    "str.concat": Op.SCONCAT, "str.repeat": Op.SREPEAT, "list.concat": Op.LCONCAT,
    "cmp.eq": Op.EQ, "cmp.ne": Op.NE, "cmp.lt": Op.LT, "cmp.le": Op.LE, "cmp.gt": Op.GT, "cmp.ge": Op.GE,
    "in": Op.IN, "not_in": Op.NOT_IN,
}
UNARY_OPS: dict[str, Op] = {
    "int.neg": Op.INEG, "float.neg": Op.FNEG, "not": Op.NOT, "int.to_float": Op.I2F, "to_str": Op.TO_STR,
}

WORDS_PER_INSTR = 4
