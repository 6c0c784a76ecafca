"""The structural limits a module file must keep: the verifier refuses a module past them, and the
checker reports a program that would need more (so both read them from here, below both)."""
from __future__ import annotations

MAX_POOL = 100_000        #: constants, names, functions, structs, globals, imports, tests
MAX_INSTRS = 1_000_000    #: instructions per function
MAX_LOCALS = 65_535       #: nlocals of a function
MAX_COUNT = 65_535        #: COUNT operands, struct fields
MAX_STACK = 1024          #: operand stack height
MAX_INDEX = 255           #: INDEX operands (tuple positions)
#: Regions open at once in one function (statement and expression regions):
#: keeps the translated code under CPython's 100 indentation levels.
MAX_NESTING = 64
#: CPython refuses more than 20 "statically nested blocks" in one code object;
#: a loop or a try body costs 1, an except handler 2 (CPython 3.11).  16 leaves
#: the translator room for a few blocks of its own.
MAX_BLOCKS = 16
#: Lambda nesting depth.
MAX_DEPTH = 32
#: Characters of one type text (signatures, field and global types).
MAX_TYPE_TEXT = 65_535
