"""The bytecode verifier: the security boundary of the VM.

Lua does not verify its bytecode, and crafted chunks crash it.  Noodle does
what WebAssembly does instead: every function of a module is validated in one
pass, with an operand-stack height and a control stack, before anything runs.
After :func:`verify` accepts a module, the translator turns its bytecode into
Python source and exec's it, so whatever is accepted here must translate into
well-formed code:

* every index (constant, local, free variable, name, global, struct,
  function, import) is in range and every cross reference agrees (call
  arity, closure parent, struct field count, native arity);
* every region (``IF``/``LOOP``/``FOR_*``/``TRY`` ... ``END`` and
  ``AND``/``OR``/``COND`` ... ``END_EXPR``) is properly nested and every jump
  operand names its own region's ELSE/CATCH/END;
* the operand stack never underflows, is empty at statement boundaries, and
  each expression region leaves exactly one value;
* every name the translator turns into Python code is a plain ASCII
  identifier (field names: the translator writes ``obj.f_<name>``, and the
  ``f_`` prefix keeps keywords and dunders harmless) or dotted identifiers
  (module exports such as ``Vec.length``, looked up as ``M0['Vec.length']``);
* a closure assigns (``STORE_FREE``, Python's ``nonlocal``) only variables
  its owner function binds itself;
* module-level function names are unique and the init function is named
  ``__init__`` (the machine looks functions up by name);
* nesting stays within what CPython can compile (see the ``MAX_*`` limits);
  the depth of a single expression is not bounded here: the machine turns
  CPython's refusal of a too deep expression into a LoadError.

The opcode facts (operand kinds, stack effects, roles) all come from
:data:`noodle.format.opcodes.OPS`.  The one pass costs about 1 µs per instruction.

:func:`verify` raises nothing but :class:`~noodle.format.module_file.LoadError`,
whatever the input, with one line saying which function and instruction is
wrong and why.
"""
from __future__ import annotations

import re

from noodle.ir.types import parse_type
from noodle.stdlib import natives as _natives
import noodle.vm.pyffi.natives  # noqa: F401,E402 - registers the py.* natives (checked like every native)
from noodle.format import module_file as _mf
from noodle.format import opcodes as _oc
from noodle.format.limits import (MAX_BLOCKS, MAX_COUNT, MAX_DEPTH, MAX_INDEX, MAX_INSTRS, MAX_LOCALS, MAX_NESTING,
                                  MAX_POOL, MAX_STACK, MAX_TYPE_TEXT)
from noodle.format.module_file import LoadError, ModuleFile, decode

__all__ = ["verify", "load_bytes", "is_identifier", "is_dotted_name", "LoadError",
           "MAX_POOL", "MAX_INSTRS", "MAX_LOCALS", "MAX_COUNT", "MAX_STACK",
           "MAX_NESTING", "MAX_BLOCKS", "MAX_DEPTH", "MAX_TYPE_TEXT"]

# ------------------------------------------------------------------ limits (noodle.format.limits)

_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1

_KINDS = frozenset({"fn", "method", "lambda", "init", "test"})
_CALLABLE = frozenset({"fn", "method"})

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_SEMVER_RE = re.compile(
    r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


def is_identifier(s: object) -> bool:
    """A plain ASCII identifier: ``[A-Za-z_][A-Za-z0-9_]*``."""
    return type(s) is str and _IDENT_RE.fullmatch(s) is not None


def is_dotted_name(s: object) -> bool:
    """Dotted identifiers: ``a``, ``a.b.c``."""
    return type(s) is str and _DOTTED_RE.fullmatch(s) is not None


def _q(s: object, limit: int = 60) -> str:
    """A short one-line quotation of a (possibly hostile) value for a message."""
    if type(s) is str:
        return repr(s[:limit]) + ("..." if len(s) > limit else "")
    return f"<{type(s).__name__}>"


def _article(kind: str) -> str:
    """The article of a function kind of depth 0 (fn, method, init, test): only `init` takes "an"."""
    return "an" if kind == "init" else "a"


def _printable(text: str, limit: int = 300) -> str:
    """`text` with control characters escaped, so that it stays on one line."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[:limit] + "..."


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


# ------------------------------------------------------------------ opcode facts

_OPS = _oc.OPS
_NUM_OPS = _oc.NUM_OPS
_Op = _oc.Op
_NAMES = tuple(info.name for info in _OPS)
_ROLES = tuple(info.role for info in _OPS)
_EFFECTS = tuple(info.effect for info in _OPS)
_OPERANDS = tuple(info.operands for info in _OPS)
_ALL_NONE = tuple(info.operands == (_oc.NONE, _oc.NONE, _oc.NONE) for info in _OPS)

_IF, _ELSE, _LOOP = _Op.IF.value, _Op.ELSE.value, _Op.LOOP.value
_FOR_RANGE, _FOR_EACH = _Op.FOR_RANGE.value, _Op.FOR_EACH.value
_TRY, _CATCH, _END = _Op.TRY.value, _Op.CATCH.value, _Op.END.value
_AND, _OR, _COND = _Op.AND.value, _Op.OR.value, _Op.COND.value
_ELSE_EXPR, _END_EXPR = _Op.ELSE_EXPR.value, _Op.END_EXPR.value
_BREAK, _CONTINUE, _BREAK_IF_FALSE = _Op.BREAK.value, _Op.CONTINUE.value, _Op.BREAK_IF_FALSE.value
_CALL, _LOAD_FUNC, _MAKE_CLOSURE = _Op.CALL.value, _Op.LOAD_FUNC.value, _Op.MAKE_CLOSURE.value
_NEW, _CALL_NATIVE, _CALL_MOD, _LOAD_MOD = _Op.NEW.value, _Op.CALL_NATIVE.value, _Op.CALL_MOD.value, _Op.LOAD_MOD.value
_RETURN, _RETURN_NONE, _THROW = _Op.RETURN.value, _Op.RETURN_NONE.value, _Op.THROW.value

_STORE_LOCAL, _STORE_FREE = _Op.STORE_LOCAL.value, _Op.STORE_FREE.value
#: ops that assign a local slot (operand a; CATCH only when c) or a free variable
_ASSIGNS = frozenset({_STORE_LOCAL, _FOR_RANGE, _FOR_EACH, _CATCH, _STORE_FREE})
_LOOPS = frozenset({_LOOP, _FOR_RANGE, _FOR_EACH})
_LOOP_CONTROL = frozenset({_BREAK, _CONTINUE, _BREAK_IF_FALSE})
_TERMINATORS = frozenset({_RETURN, _RETURN_NONE, _THROW})
#: Which operand of an opening/mid instruction is its TARGET.
_TARGET_SLOT = {_IF: 0, _ELSE: 0, _LOOP: 0, _FOR_RANGE: 1, _FOR_EACH: 1, _TRY: 0, _CATCH: 1,
                _AND: 0, _OR: 0, _COND: 0, _ELSE_EXPR: 0}
#: CPython block cost of a region's body (see MAX_BLOCKS).
_BLOCK_COST = {_LOOP: 1, _FOR_RANGE: 1, _FOR_EACH: 1, _TRY: 1, _CATCH: 2}
_STATEMENT_ROLES = frozenset({"stmt", "open", "mid", "close"})
_ROLE_WORDS = {"open": "region opener", "mid": "region divider", "close": "region end",
               "stmt": "statement"}

# opcodes.py is the one table: refuse to run against one this module does not understand.
_KNOWN_ROLES = {"expr", "stmt", "open", "mid", "close", "xopen", "xmid", "xclose"}
_KNOWN_KINDS = {_oc.NONE, _oc.CONST, _oc.LOCAL, _oc.UP, _oc.NAME, _oc.FUNC, _oc.COUNT, _oc.TARGET,
                _oc.FLAG, _oc.INDEX, _oc.MODULE, _oc.GLOBAL, _oc.STRUCT, _oc.FIELD, _oc.CHECK}
assert all(r in _KNOWN_ROLES for r in _ROLES), "opcodes.py has a role verify.py does not know"
assert all(k in _KNOWN_KINDS for ks in _OPERANDS for k in ks), "opcodes.py has an operand kind verify.py does not know"
assert all((_oc.TARGET in _OPERANDS[op]) == (op in _TARGET_SLOT) for op in range(_NUM_OPS)), \
    "opcodes.py has a TARGET operand verify.py does not know"


# ------------------------------------------------------------------ entry points

def load_bytes(data: bytes, path: str | None = None, trusted_keys: "list[bytes] | None" = None) -> ModuleFile:
    """Decode the bytes of a `.nbc` file and verify it; raises :class:`LoadError`.

    With `trusted_keys` (raw Ed25519 public keys) the file must carry a signature by one of them
    over exactly these bytes (noodle.format.signing); without, a signature is ignored."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if type(data) is not bytes:
        raise LoadError(f"module data must be bytes, not {type(data).__name__}", path)
    from noodle.format import signing

    try:
        if trusted_keys is not None:
            signing.check(data, trusted_keys)
        data = signing.unsigned(data)
        mf = decode(data)
    except LoadError as e:  # the path is added here, once, for every refusal before the verifier's
        # msgspec quotes damaged field names as they are: keep the reason on one line
        raise LoadError(_printable(e.reason), path) from None
    except Exception as e:  # noqa: BLE001 - nothing but LoadError leaves the loader
        raise LoadError(f"malformed module payload: {type(e).__name__}: {_one_line(e)}", path) from None
    verify(mf, path)
    return mf


def verify(mf: ModuleFile, path: str | None = None) -> None:
    """Check a decoded module completely — its bytecode, and its typed IR against the bytecode
    (:mod:`noodle.vm.verify_ir`); raises :class:`LoadError` with one line saying why."""
    from noodle.vm.verify_ir import check_ir

    try:
        _Verifier(mf).run()
    except _Fail as f:
        raise LoadError(f.reason, path) from None
    except LoadError as e:
        raise LoadError(e.reason, path) from None
    except Exception as e:  # noqa: BLE001 - a verifier bug must still refuse the module
        raise LoadError(f"internal verifier error: {type(e).__name__}: {_one_line(e)}", path) from None
    check_ir(mf, path)


class _Fail(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _fail(reason: str) -> None:
    raise _Fail(reason)


def _is_i64(x: object) -> bool:
    """An int (not a bool) that fits the file format, and so prints in a message."""
    return type(x) is int and _I64_MIN <= x <= _I64_MAX  # type: ignore[operator]


def _text(s: str, what: str) -> None:
    """`s` is text a module file can hold: UTF-8, so no lone surrogate (`"\\ud800"`).

    A module decoded from bytes never has one (msgspec refuses the bytes), but a module made in
    memory — by a host, or from a path the file system gave as undecodable bytes — can; it would
    pass every other check and then fail with a raw UnicodeEncodeError where the translator
    compiles it or the cache writes it."""
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as e:
            _fail(f"{what} {_q(s)} is not valid text (a lone surrogate at {e.start})")


def _texts(xs: list, what: str) -> None:
    """Every string of `xs` is valid text (:func:`_text`); the rest of `xs` is checked elsewhere."""
    for i, s in enumerate(xs):
        if type(s) is str and not s.isascii():
            _text(s, f"{what} {i}")


def _int_list(xs: object, what: str, lo: int, hi: int) -> None:
    if type(xs) is not list:
        _fail(f"{what} must be a list, not {type(xs).__name__}")
    if not xs:
        return
    if not set(map(type, xs)) <= {int}:  # type: ignore[arg-type]
        _fail(f"{what} must hold only integers")
    if min(xs) < lo or max(xs) > hi:  # type: ignore[type-var]
        _fail(f"{what} holds a value outside {lo}..{hi}")


# ------------------------------------------------------------------ the verifier

#: Type texts that parsed, shared by all loads (bounded): signatures repeat a lot.
_GOOD_TYPES: dict[str, None] = {}


class _Verifier:
    def __init__(self, mf: ModuleFile) -> None:
        self.mf = mf

    # -- module level ------------------------------------------------------

    def run(self) -> None:
        mf = self.mf
        if not isinstance(mf, ModuleFile):
            _fail(f"not a ModuleFile but {type(mf).__name__}")
        if not is_dotted_name(mf.name):
            _fail(f"module name {_q(mf.name)} is not a dotted identifier")
        if type(mf.version) is not str or _SEMVER_RE.fullmatch(mf.version) is None:
            _fail(f"module version {_q(mf.version)} is not MAJOR.MINOR.PATCH")
        for field in ("source_file", "source_hash", "compiler"):
            if type(getattr(mf, field)) is not str:
                _fail(f"module {field} must be a string")
            _text(getattr(mf, field), f"module {field}")
        if type(mf.ir) is not bytes:
            _fail("module ir must be bytes")

        self._consts(mf.consts)
        self.names = names = self._pool(mf.names, "names")
        if not set(map(type, names)) <= {str}:
            i = next(i for i, s in enumerate(names) if type(s) is not str)
            _fail(f"name {i} is not a string")
        _texts(names, "name")
        self._structs(mf.structs)
        self._globals(mf.globals)
        self._imports(mf.imports)
        self._functions(mf.functions)
        self._entry_points()
        self.ident_ok: dict[int, bool] = {}   # names[i] is an identifier
        self.dotted_ok: dict[int, bool] = {}  # names[i] is dotted identifiers
        #: per function, the local slots its own code assigns (STORE_LOCAL, FOR_*, CATCH)
        self.assigned: list[set[int]] = []
        #: (function, instruction, owner function, slot) of every STORE_FREE
        self.free_stores: list[tuple[int, int, int, int]] = []
        for fi, fn in enumerate(mf.functions):
            self._code(fi, fn)
        self._free_stores()

    def _free_stores(self) -> None:
        """A closure can only assign a variable its owner binds itself (Python's `nonlocal`)."""
        fns = self.mf.functions
        for fi, i, owner, slot in self.free_stores:
            if slot >= fns[owner].nparams and slot not in self.assigned[owner]:
                raise _Fail(f"function {_q(fns[fi].name)} instruction {i} (STORE_FREE): local {slot} of "
                            f"{_q(fns[owner].name)} is never assigned there, so it cannot be assigned from a closure")

    def _pool(self, xs: object, what: str) -> list:
        if type(xs) is not list:
            _fail(f"module {what} must be a list, not {type(xs).__name__}")
        if len(xs) > MAX_POOL:  # type: ignore[arg-type]
            _fail(f"too many {what} ({len(xs)}; at most {MAX_POOL})")  # type: ignore[arg-type]
        return xs  # type: ignore[return-value]

    def _type_text(self, text: object, what: str) -> None:
        if type(text) is not str:
            _fail(f"{what}: type text must be a string")
        if text in _GOOD_TYPES:
            return
        _text(text, f"{what}: type text")  # type: ignore[arg-type]
        if len(text) > MAX_TYPE_TEXT:  # type: ignore[arg-type]
            _fail(f"{what}: type text too long ({len(text)} characters)")  # type: ignore[arg-type]
        try:
            parse_type(text)  # type: ignore[arg-type]
        except Exception as e:  # noqa: BLE001 - TypeSyntaxError, RecursionError, ...
            _fail(f"{what}: bad type {_q(text)}: {_one_line(e, 120)}")
        if len(text) <= 512:  # type: ignore[arg-type]
            if len(_GOOD_TYPES) >= 4096:
                _GOOD_TYPES.clear()
            _GOOD_TYPES[text] = None  # type: ignore[index]

    def _consts(self, consts: object) -> None:
        consts = self._pool(consts, "constants")
        for i, v in enumerate(consts):  # type: ignore[arg-type]
            t = type(v)
            if t is int:
                if not _I64_MIN <= v <= _I64_MAX:
                    _fail(f"constant {i}: integer out of the signed 64-bit range")
            elif t is str:
                _text(v, f"constant {i}:")
            elif t not in (float, bool, type(None)):
                _fail(f"constant {i}: a {t.__name__} is not a constant")

    def _structs(self, structs: object) -> None:
        structs = self._pool(structs, "structs")
        seen: set[str] = set()
        for si, st in enumerate(structs):  # type: ignore[arg-type]
            if not isinstance(st, _mf.StructCode):
                _fail(f"struct {si} is not a StructCode")
            if not is_identifier(st.name):
                _fail(f"struct {si}: name {_q(st.name)} is not an identifier")
            if st.name in seen:
                _fail(f"struct {si}: name {_q(st.name)} repeated")
            seen.add(st.name)
            what = f"struct {_q(st.name)}"
            if type(st.fields) is not list or type(st.field_types) is not list:
                _fail(f"{what}: fields and field_types must be lists")
            if len(st.fields) > MAX_COUNT:
                _fail(f"{what}: too many fields ({len(st.fields)}; at most {MAX_COUNT})")
            if len(st.fields) != len(st.field_types):
                _fail(f"{what}: {len(st.fields)} fields but {len(st.field_types)} field types")
            if st.has_default and (len(st.has_default) != len(st.fields) or len(st.defaults) != len(st.fields)):
                _fail(f"{what}: field defaults do not match its {len(st.fields)} fields")
            if type(st.exported) is not bool:
                _fail(f"{what}: exported must be a bool")
            fseen: set[str] = set()
            for f, ft in zip(st.fields, st.field_types):
                if not is_identifier(f):
                    _fail(f"{what}: field name {_q(f)} is not an identifier")
                if f in fseen:
                    _fail(f"{what}: field {_q(f)} repeated")
                fseen.add(f)
                self._type_text(ft, f"{what} field {_q(f)}")

    def _globals(self, globals_: object) -> None:
        globals_ = self._pool(globals_, "globals")
        seen: set[str] = set()
        for gi, g in enumerate(globals_):  # type: ignore[arg-type]
            if not isinstance(g, _mf.GlobalCode):
                _fail(f"global {gi} is not a GlobalCode")
            if not is_identifier(g.name):
                _fail(f"global {gi}: name {_q(g.name)} is not an identifier")
            if g.name in seen:
                _fail(f"global {gi}: name {_q(g.name)} repeated")
            seen.add(g.name)
            if type(g.mutable) is not bool or type(g.exported) is not bool:
                _fail(f"global {_q(g.name)}: mutable and exported must be bools")
            self._type_text(g.type, f"global {_q(g.name)}")

    def _imports(self, imports: object) -> None:
        imports = self._pool(imports, "imports")
        for ii, im in enumerate(imports):  # type: ignore[arg-type]
            if not isinstance(im, _mf.ImportCode):
                _fail(f"import {ii} is not an ImportCode")
            if not is_dotted_name(im.module):
                _fail(f"import {ii}: module name {_q(im.module)} is not a dotted identifier")
            # no default for a missing hash (a host can `del` a field): the image and the cache read it
            if type(im.version) is not str or type(getattr(im, "hash", None)) is not str:
                _fail(f"import {ii}: version and hash must be strings")
            _text(im.version, f"import {ii}: version")
            _text(im.hash, f"import {ii}: hash")

    def _functions(self, functions: object) -> None:
        functions = self._pool(functions, "functions")
        n = len(functions)  # type: ignore[arg-type]
        for fi, fn in enumerate(functions):  # type: ignore[arg-type]
            if not isinstance(fn, _mf.FunctionCode):
                _fail(f"function {fi} is not a FunctionCode")
            if type(fn.name) is not str:
                _fail(f"function {fi}: name must be a string")
            _text(fn.name, f"function {fi}: name")
            what = f"function {_q(fn.name)}"
            if type(fn.display) is not str:
                _fail(f"{what}: display must be a string")
            _text(fn.display, f"{what}: display")
            if type(fn.kind) is not str or fn.kind not in _KINDS:
                _fail(f"{what}: unknown kind {_q(fn.kind)} (fn, method, lambda, init or test)")
            for attr in ("nparams", "nlocals", "depth", "parent"):
                if not _is_i64(getattr(fn, attr)):
                    _fail(f"{what}: {attr} must be a 64-bit integer")
            if not 0 <= fn.nlocals <= MAX_LOCALS:
                _fail(f"{what}: nlocals {fn.nlocals} outside 0..{MAX_LOCALS}")
            if not 0 <= fn.nparams <= fn.nlocals:
                _fail(f"{what}: nparams {fn.nparams} outside 0..nlocals ({fn.nlocals})")
            if type(fn.local_names) is not list or not set(map(type, fn.local_names)) <= {str}:
                _fail(f"{what}: local_names must be a list of strings")
            _texts(fn.local_names, f"{what}: local name")
            if len(fn.local_names) != fn.nlocals:
                _fail(f"{what}: {len(fn.local_names)} local names for {fn.nlocals} locals")
            if type(fn.exported) is not bool:
                _fail(f"{what}: exported must be a bool")
            depth, parent = fn.depth, fn.parent
            if fn.kind == "lambda":
                if not 1 <= depth <= MAX_DEPTH:
                    _fail(f"{what}: a lambda's depth must be in 1..{MAX_DEPTH}, not {depth}")
                if not 0 <= parent < n:
                    _fail(f"{what}: parent function index {parent} out of range (module has {n})")
            else:
                if depth != 0:
                    _fail(f"{what}: {_article(fn.kind)} {fn.kind} function must have depth 0, not {depth}")
                if parent != -1:
                    _fail(f"{what}: {_article(fn.kind)} {fn.kind} function must have parent -1, not {parent}")
            code = fn.code
            if type(code) is not list:
                _fail(f"{what}: code must be a list")
            if len(code) % _oc.WORDS_PER_INSTR:
                _fail(f"{what}: code length {len(code)} is not a multiple of {_oc.WORDS_PER_INSTR}")
            ninstr = len(code) // _oc.WORDS_PER_INSTR
            if ninstr == 0:
                _fail(f"{what}: no instructions")
            if ninstr > MAX_INSTRS:
                _fail(f"{what}: too many instructions ({ninstr}; at most {MAX_INSTRS})")
            if not set(map(type, code)) <= {int}:
                _fail(f"{what}: code must hold only integers")
            if min(code) < _I64_MIN or max(code) > _I64_MAX:
                _fail(f"{what}: code holds an integer outside the signed 64-bit range")
            if type(fn.lines) is not list or type(fn.cols) is not list \
                    or len(fn.lines) != ninstr or len(fn.cols) != ninstr:
                _fail(f"{what}: needs one line and one column per instruction ({ninstr})")
            _int_list(fn.lines, f"{what}: lines", -(1 << 31), (1 << 31) - 1)
            _int_list(fn.cols, f"{what}: cols", -(1 << 31), (1 << 31) - 1)
            self._type_text(fn.signature, f"{what} signature")
        # the machine keys module-level functions by name
        seen: set[str] = set()
        for fn in functions:  # type: ignore[attr-defined]
            if fn.kind != "lambda":
                if fn.name in seen:
                    _fail(f"function {_q(fn.name)}: name repeated")
                seen.add(fn.name)
        # every header is sound now: check the lambdas' parents (depths decrease along the
        # parent links, so following them always ends at a function of depth 0: no cycles)
        for fn in functions:  # type: ignore[attr-defined]
            if fn.kind == "lambda":
                p = functions[fn.parent]  # type: ignore[index]
                if p.depth != fn.depth - 1:
                    _fail(f"function {_q(fn.name)}: depth {fn.depth} but its parent {_q(p.name)} has depth {p.depth}")

    def _entry_points(self) -> None:
        mf = self.mf
        fns = mf.functions
        n = len(fns)
        init = mf.init
        if not _is_i64(init) or not 0 <= init < n:
            _fail(f"init function index {init if _is_i64(init) else '?'} out of range (module has {n})")
        if fns[init].kind != "init" or fns[init].nparams != 0:
            _fail(f"init function {_q(fns[init].name)} must be of kind init with no parameters "
                  f"(is {fns[init].kind} with {fns[init].nparams})")
        if fns[init].name != "__init__":  # the machine looks it up by this name
            _fail(f"init function {_q(fns[init].name)} must be named '__init__'")
        entry = mf.entry
        if not _is_i64(entry) or not -1 <= entry < n:
            _fail(f"entry function index {entry if _is_i64(entry) else '?'} out of range (module has {n})")
        if entry != -1 and (fns[entry].kind != "fn" or fns[entry].nparams != 0):
            _fail(f"entry function {_q(fns[entry].name)} must be of kind fn with no parameters "
                  f"(is {fns[entry].kind} with {fns[entry].nparams})")
        tests = self._pool(mf.tests, "tests")
        for ti, t in enumerate(tests):
            if not isinstance(t, _mf.TestCode):
                _fail(f"test {ti} is not a TestCode")
            if type(t.name) is not str:
                _fail(f"test {ti}: name must be a string")
            _text(t.name, f"test {ti}: name")
            if not _is_i64(t.func) or not 0 <= t.func < n:
                _fail(f"test {_q(t.name)}: function index {t.func if _is_i64(t.func) else '?'} "
                      f"out of range (module has {n})")
            f = fns[t.func]
            if f.kind != "test" or f.nparams != 0:
                _fail(f"test {_q(t.name)}: function {_q(f.name)} must be of kind test with no parameters "
                      f"(is {f.kind} with {f.nparams})")

    # -- code ----------------------------------------------------------------

    def _ident(self, i: int) -> bool:
        ok = self.ident_ok.get(i)
        if ok is None:
            ok = self.ident_ok[i] = is_identifier(self.names[i])
        return ok

    def _dotted(self, i: int) -> bool:
        ok = self.dotted_ok.get(i)
        if ok is None:
            ok = self.dotted_ok[i] = is_dotted_name(self.names[i])
        return ok

    def _code(self, fi: int, fn) -> None:  # noqa: C901 - one pass, kept in one loop on purpose
        mf = self.mf
        fns = mf.functions
        nfuncs = len(fns)
        nconsts = len(mf.consts)
        names = self.names
        nnames = len(names)
        nglobals = len(mf.globals)
        nstructs = len(mf.structs)
        nimports = len(mf.imports)
        nlocals = fn.nlocals
        depth = fn.depth
        # nlocals of the function `up` levels out: ancestors[up]
        ancestors = [nlocals]
        p = fn
        for _ in range(depth):
            p = fns[p.parent]
            ancestors.append(p.nlocals)
        natives = _natives.NATIVES
        assigned: set[int] = set()
        self.assigned.append(assigned)

        code = fn.code
        ninstr = len(code) // 4
        fname = _q(fn.name)

        OPS_N, ROLES, EFFECTS, OPERANDS, ALL_NONE, NAMES_ = _NUM_OPS, _ROLES, _EFFECTS, _OPERANDS, _ALL_NONE, _NAMES
        K_NONE, K_CONST, K_LOCAL, K_UP, K_NAME, K_FUNC = _oc.NONE, _oc.CONST, _oc.LOCAL, _oc.UP, _oc.NAME, _oc.FUNC
        K_COUNT, K_TARGET, K_FLAG, K_INDEX, K_MODULE = _oc.COUNT, _oc.TARGET, _oc.FLAG, _oc.INDEX, _oc.MODULE
        K_CHECK = _oc.CHECK
        K_GLOBAL, K_STRUCT, K_FIELD = _oc.GLOBAL, _oc.STRUCT, _oc.FIELD

        h = 0            # operand stack height
        floor = 0        # an expression region cannot pop the values below its start
        # control stack frames: [opener op, opener index, index of the instruction whose target
        # is still to be matched (opener, ELSE, CATCH, ELSE_EXPR), that target, mid seen,
        # base height (expression regions) or CPython block cost (statement regions)]
        ctl: list[list[int]] = []
        loops = 0        # enclosing loop regions
        xdepth = 0       # open expression regions (always on top of the control stack)
        blocks = 0       # CPython block cost of the open regions

        def err(i: int, msg: str) -> None:
            op = code[4 * i]
            opname = NAMES_[op] if 0 <= op < OPS_N else f"opcode {op}"
            raise _Fail(f"function {fname} instruction {i} ({opname}): {msg}")

        i = 0
        k = 0
        while i < ninstr:
            op = code[k]
            a = code[k + 1]
            b = code[k + 2]
            c = code[k + 3]
            if not 0 <= op < OPS_N:
                raise _Fail(f"function {fname} instruction {i}: unknown opcode {op}")

            # ---- operands
            if ALL_NONE[op]:
                if a or b or c:
                    err(i, "operands must be 0")
            else:
                kinds = OPERANDS[op]
                for slot in (0, 1, 2):
                    kind = kinds[slot]
                    v = a if slot == 0 else b if slot == 1 else c
                    if kind == K_NONE:
                        if v:
                            err(i, f"operand {'abc'[slot]} must be 0")
                    elif kind == K_LOCAL:
                        if op == _CATCH and slot == 0 and c == 0:
                            if v:
                                err(i, "error slot must be 0 when the error is not bound")
                        else:
                            lim = nlocals
                            if slot > 0 and kinds[slot - 1] == K_UP:
                                lim = ancestors[(a, b)[slot - 1]]
                            if not 0 <= v < lim:
                                err(i, f"local {v} out of range (function has {lim})")
                    elif kind == K_CONST:
                        if not 0 <= v < nconsts:
                            err(i, f"constant index {v} out of range (module has {nconsts})")
                    elif kind == K_TARGET:
                        if not i < v < ninstr:
                            err(i, f"target {v} out of range (must be after {i} and before {ninstr})")
                    elif kind == K_COUNT:
                        if not 0 <= v <= MAX_COUNT:
                            err(i, f"count {v} outside 0..{MAX_COUNT}")
                    elif kind == K_FUNC:
                        if not 0 <= v < nfuncs:
                            err(i, f"function index {v} out of range (module has {nfuncs})")
                    elif kind == K_NAME:
                        if not 0 <= v < nnames:
                            err(i, f"name index {v} out of range (module has {nnames})")
                    elif kind == K_FIELD:
                        if not 0 <= v < nnames:
                            err(i, f"name index {v} out of range (module has {nnames})")
                        if not self._ident(v):
                            err(i, f"field name {_q(names[v])} is not an identifier")
                    elif kind == K_GLOBAL:
                        if not 0 <= v < nglobals:
                            err(i, f"global index {v} out of range (module has {nglobals})")
                    elif kind == K_UP:
                        if not 1 <= v <= depth:
                            err(i, f"{v} levels out is outside 1..{depth} (the function's depth)")
                    elif kind == K_FLAG:
                        if v != 0 and v != 1:
                            err(i, f"flag {v} is not 0 or 1")
                    elif kind == K_CHECK:
                        if not 0 <= v <= 3:
                            err(i, f"overflow-check bits {v} outside 0..3")
                    elif kind == K_INDEX:
                        if not 0 <= v <= MAX_INDEX:
                            err(i, f"index {v} outside 0..{MAX_INDEX}")
                    elif kind == K_MODULE:
                        if not 0 <= v < nimports:
                            err(i, f"import index {v} out of range (module has {nimports})")
                    elif kind == K_STRUCT:
                        if not 0 <= v < nstructs:
                            err(i, f"struct index {v} out of range (module has {nstructs})")
                    else:  # pragma: no cover - guarded by the asserts at import
                        err(i, f"unknown operand kind {kind!r}")

                # ---- cross checks
                if op in _ASSIGNS:
                    if op == _STORE_FREE:
                        owner = fi
                        for _ in range(a):
                            owner = fns[owner].parent
                        self.free_stores.append((fi, i, owner, b))
                    elif op != _CATCH or c:
                        assigned.add(a)
                elif op == _CALL:
                    f = fns[a]
                    if f.kind not in _CALLABLE:
                        err(i, f"cannot CALL {_q(f.name)} of kind {f.kind}")
                    if b != f.nparams:
                        err(i, f"{_q(f.name)} takes {f.nparams} arguments, not {b}")
                elif op == _LOAD_FUNC:
                    f = fns[a]
                    if f.kind not in _CALLABLE:
                        err(i, f"cannot load {_q(f.name)} of kind {f.kind} as a value")
                elif op == _MAKE_CLOSURE:
                    f = fns[a]
                    if f.kind != "lambda":
                        err(i, f"{_q(f.name)} is a {f.kind}, not a lambda")
                    if f.parent != fi:
                        err(i, f"lambda {_q(f.name)} belongs to function {f.parent}, not {fi}")
                elif op == _NEW:
                    nf = len(mf.structs[a].fields)
                    if b != nf:
                        err(i, f"struct {_q(mf.structs[a].name)} has {nf} fields, not {b}")
                elif op == _CALL_NATIVE:
                    nm = names[a]
                    nat = natives.get(nm)
                    if nat is None:
                        err(i, f"unknown native {_q(nm)}")
                    arity = getattr(nat, "arity", None)
                    if arity != -1 and arity != b:
                        err(i, f"native {_q(nm)} takes {arity} arguments, not {b}")
                elif op == _CALL_MOD or op == _LOAD_MOD:
                    if not self._dotted(b):
                        err(i, f"export name {_q(names[b])} is not a dotted identifier")

            # ---- stack and structure
            role = ROLES[op]
            if xdepth and role in _STATEMENT_ROLES:
                err(i, f"{_ROLE_WORDS[role]} inside an expression region")
            pops, pushes = EFFECTS[op](a, b, c)
            if pops > h - floor:
                if pops > h:
                    err(i, f"stack underflow (pops {pops}, height {h})")
                err(i, f"pops {pops} but its {NAMES_[ctl[-1][0]]} region (opened at {ctl[-1][1]}) "
                       f"has only {h - floor} values of its own")
            h -= pops
            if role == "expr":
                pass
            elif role[0] == "x":
                if role == "xopen":
                    if len(ctl) >= MAX_NESTING:
                        err(i, f"regions nested too deeply (at most {MAX_NESTING})")
                    ctl.append([op, i, i, a, 0, h])
                    xdepth += 1
                    floor = h
                else:
                    if not xdepth:
                        err(i, "outside an AND/OR/COND region")
                    fr = ctl[-1]
                    if role == "xmid":
                        if fr[0] != _COND:
                            err(i, f"ELSE_EXPR inside an {NAMES_[fr[0]]} region (opened at {fr[1]})")
                        if fr[4]:
                            err(i, f"second ELSE_EXPR in the COND region opened at {fr[1]}")
                    elif fr[0] == _COND and not fr[4]:
                        err(i, f"the COND region opened at {fr[1]} has no ELSE_EXPR")
                    if fr[3] != i:
                        err(fr[2], f"target {fr[3]} should be {i} (its {NAMES_[op]})")
                    base = fr[5]
                    if h != base + 1:
                        err(i, f"the region must leave exactly one value (leaves {h - base})")
                    if role == "xmid":
                        fr[2], fr[3], fr[4] = i, a, 1
                        h = base
                    else:
                        ctl.pop()
                        xdepth -= 1
                        floor = ctl[-1][5] if xdepth else 0
            else:
                if h:
                    err(i, f"value left on the stack (height {h})")
                if role == "stmt":
                    if op in _LOOP_CONTROL and not loops:
                        err(i, "not inside a loop")
                elif role == "open":
                    if len(ctl) >= MAX_NESTING:
                        err(i, f"regions nested too deeply (at most {MAX_NESTING})")
                    cost = _BLOCK_COST.get(op, 0)
                    if blocks + cost > MAX_BLOCKS:
                        err(i, f"loops and try blocks nested too deeply (cost {blocks + cost}, at most {MAX_BLOCKS})")
                    blocks += cost
                    ctl.append([op, i, i, (a, b, c)[_TARGET_SLOT[op]], 0, cost])
                    if op in _LOOPS:
                        loops += 1
                elif role == "mid":
                    if not ctl:
                        err(i, "outside any region")
                    fr = ctl[-1]
                    opener = fr[0]
                    if op == _ELSE:
                        if opener != _IF:
                            err(i, f"ELSE inside a {NAMES_[opener]} region (opened at {fr[1]})")
                        if fr[4]:
                            err(i, f"second ELSE in the IF region opened at {fr[1]}")
                        cost = 0
                    elif op == _CATCH:
                        if opener != _TRY:
                            err(i, f"CATCH inside a {NAMES_[opener]} region (opened at {fr[1]})")
                        if fr[4]:
                            err(i, f"second CATCH in the TRY region opened at {fr[1]}")
                        cost = _BLOCK_COST[_CATCH]
                        if blocks - fr[5] + cost > MAX_BLOCKS:
                            err(i, f"loops and try blocks nested too deeply (cost {blocks - fr[5] + cost}, "
                                   f"at most {MAX_BLOCKS})")
                    else:  # pragma: no cover - no other mid op in the table
                        err(i, "unknown region divider")
                    if fr[3] != i:
                        err(fr[2], f"target {fr[3]} should be {i} (its {NAMES_[op]})")
                    blocks += cost - fr[5]
                    fr[2], fr[3], fr[4], fr[5] = i, (a, b, c)[_TARGET_SLOT[op]], 1, cost
                else:  # close
                    if not ctl:
                        err(i, "END without an open region")
                    fr = ctl.pop()
                    if fr[0] == _TRY and not fr[4]:
                        err(i, f"the TRY region opened at {fr[1]} has no CATCH")
                    if fr[3] != i:
                        err(fr[2], f"target {fr[3]} should be {i} (its END)")
                    blocks -= fr[5]
                    if fr[0] in _LOOPS:
                        loops -= 1
            h += pushes
            if h > MAX_STACK:
                err(i, f"operand stack deeper than {MAX_STACK}")
            i += 1
            k += 4

        last = ninstr - 1
        if ctl:
            fr = ctl[-1]
            raise _Fail(f"function {fname}: region {NAMES_[code[4 * fr[1]]]} at instruction {fr[1]} "
                        f"is not closed at the end of the code")
        if code[4 * last] not in _TERMINATORS:
            err(last, "the last instruction must be RETURN, RETURN_NONE or THROW")


