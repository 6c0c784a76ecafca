"""The bytecode verifier (noodle.vm.verify) and disassembler (noodle.format.disasm).

Small modules are assembled by hand from (opname, a, b, c) tuples; each rule of
the verifier is shown once with the reason it gives, then Hypothesis mutates
valid modules (bytes and structure) to check that nothing but LoadError ever
escapes and that whatever is accepted satisfies what the translator relies on.
"""
from __future__ import annotations

import hashlib
import re
import struct

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noodle.stdlib.natives import NATIVES, Native
from noodle.format import module_file as mfile
from noodle.vm import verify as V
from noodle.format.disasm import disassemble
from noodle.format.module_file import (
    FunctionCode, GlobalCode, ImportCode, LoadError, ModuleFile, StructCode, decode, encode,
)
ModTest = mfile.TestCode  # imported under another name: pytest would collect "Test*" classes

from noodle.format.limits import MAX_COUNT, MAX_TYPE_TEXT
from noodle.format.opcodes import BY_NAME, NUM_OPS, OPS, WORDS_PER_INSTR
from noodle.vm.verify import load_bytes, verify

# ---------------------------------------------------------------- assembling

Instr = tuple  # (opname, a=0, b=0, c=0); a TARGET operand left as None is linked automatically

_TARGET_SLOT = {"IF": 0, "ELSE": 0, "LOOP": 0, "FOR_RANGE": 1, "FOR_EACH": 1, "TRY": 0, "CATCH": 1,
                "AND": 0, "OR": 0, "COND": 0, "ELSE_EXPR": 0}


def link(instrs: list[Instr]) -> list[list]:
    """Fill TARGET operands given as None with the index of the matching ELSE/CATCH/END."""
    rows = [list(ins) + [0] * (4 - len(ins)) for ins in instrs]
    pending: list[int] = []  # index of the instruction whose target is still open
    for i, row in enumerate(rows):
        role = OPS[BY_NAME[row[0]]].role
        if role in ("mid", "close", "xmid", "xclose") and pending:
            j = pending.pop()
            slot = _TARGET_SLOT[rows[j][0]] + 1
            if rows[j][slot] is None:
                rows[j][slot] = i
        if role in ("open", "mid", "xopen", "xmid"):
            pending.append(i)
    # unbalanced programs (for the error tests) keep their unlinked targets at 0
    return [[0 if v is None else v for v in row] for row in rows]


def asm(instrs: list[Instr]) -> list[int]:
    code: list[int] = []
    for name, a, b, c in link(instrs):
        code += [BY_NAME[name], a, b, c]
    return code


def func(name: str, instrs: list[Instr], *, kind: str = "fn", params: list[str] | None = None,
         locals_: list[str] | None = None, depth: int = 0, parent: int = -1,
         signature: str | None = None) -> FunctionCode:
    params = params or []
    names = params + (locals_ or [])
    code = asm(instrs)
    n = len(code) // WORDS_PER_INSTR
    return FunctionCode(
        name=name, display=name, kind=kind, nparams=len(params), nlocals=len(names), depth=depth,
        parent=parent, code=code, lines=[10 + i for i in range(n)], cols=[1 + i % 7 for i in range(n)],
        local_names=names, signature=signature or f"fn({', '.join('int' for _ in params)}) -> int",
    )


INIT = [("CONST", 2), ("STORE_GLOBAL", 0), ("RETURN_NONE",)]


def module(*functions: FunctionCode, init_code: list[Instr] = INIT, **kw) -> ModuleFile:
    """A module whose function 0 is `__init__`; the given functions follow from index 1."""
    fields = dict(
        name="demo.sample", version="1.2.3", source_file="sample.nd", source_hash="ab" * 16,
        compiler="noodlec test", consts=[2, 1, 10, "done", 3.5, None, True, 0],
        names=["x", "y", "sqrt", "pi", "message", "class", "Vec.length", "not an id"],
        structs=[StructCode("Point", ["x", "y"], ["int", "int"])],
        globals=[GlobalCode("counter", "int", True)],
        imports=[ImportCode("std.math", "1.0.0")],
        tests=[], init=0, entry=-1,
    )
    fields.update(kw)
    fns = [func("__init__", init_code, kind="init", signature="fn() -> none"), *functions]
    return ModuleFile(functions=fns, **fields)


# function indices in sample()
FIB, LOOP_SUM, BOTH, SAFE, MAKE_ADDER, LAMBDA, MAIN, TEST = range(1, 9)


def sample() -> ModuleFile:
    """A valid module using every kind of region and most operand kinds."""
    fib = func("fib", [
        ("LOAD_LOCAL", 0), ("CONST", 0), ("LT",),
        ("IF", None),
        ("LOAD_LOCAL", 0), ("RETURN",),
        ("ELSE", None),
        ("LOAD_LOCAL", 0), ("CONST", 1), ("ISUB",), ("CALL", FIB, 1),
        ("LOAD_LOCAL", 0), ("CONST", 0), ("ISUB",), ("CALL", FIB, 1),
        ("IADD",), ("RETURN",),
        ("END",),
        ("RETURN_NONE",),
    ], params=["n"])
    loop_sum = func("loop_sum", [
        ("CONST", 7), ("STORE_LOCAL", 1),
        ("CONST", 7), ("LOAD_LOCAL", 0), ("CONST", 1),
        ("FOR_RANGE", 2, None),
        ("LOAD_LOCAL", 2), ("CONST", 2), ("GT",),
        ("IF", None), ("BREAK",), ("END",),
        ("LOAD_LOCAL", 1), ("LOAD_LOCAL", 2), ("IADD",), ("STORE_LOCAL", 1),
        ("END",),
        ("LOAD_LOCAL", 1), ("RETURN",),
    ], params=["n"], locals_=["total", "i"])
    both = func("both", [
        ("LOAD_LOCAL", 0), ("AND", None), ("LOAD_LOCAL", 1), ("NOT",), ("END_EXPR",),
        ("LOAD_LOCAL", 0), ("OR", None), ("CONST", 6), ("END_EXPR",), ("IADD",),
        ("RETURN",),
    ], params=["a", "b"], signature="fn(bool, bool) -> bool")
    safe = func("safe", [
        ("TRY", None),
        ("LOAD_LOCAL", 0), ("THROW",),
        ("CATCH", 1, None, 1),
        ("LOAD_LOCAL", 1), ("GET_FIELD", 4), ("POP",),
        ("END",),
        ("TRY", None), ("NOP",), ("CATCH", 0, None, 0), ("END",),
        ("RETURN_NONE",),
    ], params=["x"], locals_=["err"], signature="fn(Error) -> none")
    make_adder = func("make_adder", [("MAKE_CLOSURE", LAMBDA), ("RETURN",)],
                      params=["n"], signature="fn(int) -> fn(int) -> int")
    lam = func("__lambda_0", [("LOAD_FREE", 1, 0), ("LOAD_LOCAL", 0), ("IADD",), ("RETURN",)],
               kind="lambda", params=["x"], depth=1, parent=MAKE_ADDER)
    main = func("main", [
        ("CONST", 6), ("COND", None), ("CONST", 2), ("ELSE_EXPR", None), ("CONST", 1), ("END_EXPR",), ("POP",),
        ("CONST", 0), ("CONST", 1), ("NEW", 0, 2), ("STORE_LOCAL", 0),
        ("LOAD_LOCAL", 0), ("GET_FIELD", 0), ("POP",),
        ("LOAD_LOCAL", 0), ("CONST", 1), ("SET_FIELD", 1),
        ("CONST", 4), ("CALL_MOD", 0, 2, 1), ("POP",),
        ("LOAD_MOD", 0, 3), ("POP",),
        ("LOAD_GLOBAL", 0), ("CONST", 1), ("IADD",), ("STORE_GLOBAL", 0),
        ("LOOP", None),
        ("LOAD_GLOBAL", 0), ("CONST", 2), ("LT",), ("BREAK_IF_FALSE",),
        ("LOAD_GLOBAL", 0), ("CONST", 1), ("IADD",), ("STORE_GLOBAL", 0),
        ("CONTINUE",),
        ("END",),
        ("LOAD_FUNC", FIB), ("CONST", 2), ("CALL_VALUE", 1), ("POP",),
        ("CONST", 3), ("CONST", 4), ("BUILD_TUPLE", 2), ("TUPLE_GET", 1), ("POP",),
        ("CONST", 3), ("CONST", 0), ("SLICE", 1, 0), ("POP",),
        ("CONST", 1), ("CONST", 2), ("BUILD_MAP", 1), ("POP",),
        ("CONST", 3), ("FOR_EACH", 1, None), ("END",),
        ("RETURN_NONE",),
    ], locals_=["p", "ch"], signature="fn() -> none")
    test = func("__test_0", [("CONST", 6), ("CONST", 3), ("ASSERT",), ("RETURN_NONE",)],
                kind="test", signature="fn() -> none")
    return module(fib, loop_sum, both, safe, make_adder, lam, main, test,
                  tests=[ModTest("it works", TEST)], entry=MAIN)


def clone(mf: ModuleFile) -> ModuleFile:
    return decode(encode(mf))


def reason(mf: ModuleFile) -> str:
    """The LoadError reason of verify(mf); fails the test if it passes."""
    with pytest.raises(LoadError) as e:
        verify(mf)
    r = e.value.reason
    assert "\n" not in r
    assert not r.startswith("internal verifier error"), r
    return r


def with_code(fn_index: int, instrs: list[Instr], mf: ModuleFile | None = None, **fn_kw) -> ModuleFile:
    """The sample module with one function's code (and header fields) replaced."""
    mf = mf or sample()
    old = mf.functions[fn_index]
    code = asm(instrs)
    n = len(code) // WORDS_PER_INSTR
    old.code, old.lines, old.cols = code, [1] * n, [1] * n
    for k, v in fn_kw.items():
        setattr(old, k, v)
    return mf


def main_reason(instrs: list[Instr], **fn_kw) -> str:
    return reason(with_code(MAIN, instrs, **fn_kw))


# ---------------------------------------------------------------- valid modules

def test_sample_verifies_and_round_trips():
    mf = sample()
    verify(mf)
    data = encode(mf)
    assert load_bytes(data) == mf
    assert load_bytes(bytearray(data)) == mf


def test_minimal_module():
    mf = module()
    verify(mf)
    assert mf.entry == -1


def test_semver_with_pre_release_and_build():
    verify(module(version="10.0.1-beta.2+build.7"))


def test_disassemble_sample():
    text = disassemble(sample())
    assert text.startswith("module demo.sample  version 1.2.3")
    for needle in [
        "constants (8):", "'done'", "names (8):", "Point(x: int, y: int)", "var counter: int",
        "std.math  (version 1.0.0)", "'it works' -> function 8",
        "function 1 'fib' (fn)", "signature: fn(int) -> int", "locals: 0 n (param)",
        "CALL            1 1", "; 'fib'", "; to 6", "; .message", "; std.math.sqrt", "; std.math.pi",
        "; Point", "; counter", "; x (param)", "n (param) of 'make_adder' (1 up)", "parent 5 ('make_adder')",
        "(error not bound)", "; 3.5",
    ]:
        assert needle in text, needle
    # indentation shows nesting: the BREAK sits two regions deep in loop_sum
    lines = text.splitlines()
    (brk,) = [ln for ln in lines if "BREAK " in ln or ln.rstrip().endswith("BREAK")]
    (for_,) = [ln for ln in lines if "FOR_RANGE" in ln]
    assert brk.index("BREAK") - for_.index("FOR_RANGE") == 4
    ends = [ln for ln in lines if ln.rstrip().endswith(" END")]
    assert ends


def test_disassemble_native_and_unverified_garbage(monkeypatch):
    monkeypatch.setitem(NATIVES, "x", Native("x", -1, print))
    mf = with_code(MAIN, [("CONST", 0), ("CALL_NATIVE", 0, 1), ("RETURN",)])
    verify(mf)
    assert "; native x" in disassemble(mf)
    # the listing does its best on modules that did not pass verify
    bad = sample()
    bad.functions[1].code[0:4] = [999, -5, 10**30, 7]
    bad.functions[2].code[0:4] = [BY_NAME["CONST"], 10**6, 0, 0]
    bad.functions[2].local_names = []
    bad.init = 77
    text = disassemble(bad)
    assert "<bad opcode 999>" in text


# ---------------------------------------------------------------- load_bytes: the file layer

def _with_header(data: bytes, **kw) -> bytes:
    magic, version, flags, length, digest = struct.unpack_from("<8sHHI32s", data)
    fields = dict(magic=magic, version=version, flags=flags, length=length, digest=digest)
    fields.update(kw)
    return struct.pack("<8sHHI32s", *fields.values()) + data[mfile.HEADER_SIZE:]


def load_reason(data: bytes) -> str:
    with pytest.raises(LoadError) as e:
        load_bytes(data, "m.nbc")
    assert str(e.value).startswith("m.nbc: ")
    return e.value.reason


def test_load_foreign_file():
    assert load_reason(b"#!/bin/sh\necho hello\n") == 'not a Noodle module (bad magic number)'


def test_load_empty_file():
    assert load_reason(b"") == 'not a Noodle module (bad magic number)'


def test_load_truncated_header_and_payload():
    data = encode(sample())
    assert load_reason(data[:20]) == 'truncated module file (incomplete header)'
    n = len(data) - mfile.HEADER_SIZE
    assert load_reason(data[:-10]) == f'truncated module file ({n - 10} of {n} payload bytes)'


def test_load_flipped_byte():
    data = bytearray(encode(sample()))
    data[len(data) // 2] ^= 0x40
    assert load_reason(bytes(data)) == 'corrupted module file (checksum mismatch)'


def test_load_wrong_format_version_flags_and_trailing_garbage():
    data = encode(sample())
    assert load_reason(_with_header(data, version=7)) == 'module format version 7 is not supported (this VM reads version 1)'
    assert load_reason(_with_header(data, flags=2)) == 'unknown module flags 0x2'
    # flag 1 says "signed" (noodle.format.signing): a file claiming it needs its signature trailer
    assert load_reason(_with_header(data, flags=1)) == 'signed module file whose signature trailer is missing or damaged (0 bytes after the payload, not 96)'
    assert load_reason(data + b"\0") == 'trailing garbage after the module payload (1 bytes)'


def test_load_not_bytes():
    assert load_reason("a string") == "module data must be bytes, not str"  # type: ignore[arg-type]
    assert load_bytes(bytearray(SAMPLE_BYTES)) == load_bytes(memoryview(SAMPLE_BYTES)) == sample()


def test_load_malformed_payload_with_valid_checksum():
    payload = b"\x93\x01\x02\x03"
    digest = hashlib.blake2b(payload, digest_size=32).digest()
    data = struct.pack("<8sHHI32s", mfile.MAGIC, mfile.FORMAT_VERSION, 0, len(payload), digest) + payload
    assert load_reason(data) == 'malformed module payload: Expected `object`, got `array`'


def _renamed_field(name: str) -> bytes:
    """The sample module's bytes with its `name` field renamed `name` (checksum made to match)."""
    plain = msgspec.msgpack.decode(SAMPLE_BYTES[mfile.HEADER_SIZE:])
    plain[name] = plain.pop("name")
    payload = msgspec.msgpack.encode(plain)
    digest = hashlib.blake2b(payload, digest_size=32).digest()
    return struct.pack("<8sHHI32s", mfile.MAGIC, mfile.FORMAT_VERSION, 0, len(payload), digest) + payload


def test_load_error_from_the_decoder_stays_on_one_line():
    unknown = "malformed module payload: Object contains unknown field "
    assert load_reason(_renamed_field("na\nme")) == unknown + "`na\\nme`"
    # control characters escaped, a backslash left as it is
    assert load_reason(_renamed_field("a\\b\x01")) == unknown + "`a\\b\\x01`"
    # a long damaged name: cut at 300 characters, and not one before
    assert load_reason(_renamed_field("n\x01" + "m" * 400)) == (unknown + "`n\\x01" + "m" * 400)[:300] + "..."
    exactly = "n\x01" + "m" * (300 - len(unknown) - 7)
    assert load_reason(_renamed_field(exactly)) == unknown + "`n\\x01" + "m" * (300 - len(unknown) - 7) + "`"
    assert len(load_reason(_renamed_field(exactly))) == 300


def test_load_with_trusted_keys_runs_only_what_they_signed():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from noodle.format import signing

    def raw(key: Ed25519PrivateKey) -> bytes:
        return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    key, other = Ed25519PrivateKey.from_private_bytes(b"\1" * 32), Ed25519PrivateKey.from_private_bytes(b"\2" * 32)
    signed = signing.sign(SAMPLE_BYTES, key)
    assert load_bytes(signed, "m.nbc", [raw(other), raw(key)]) == sample()
    assert load_bytes(signed, "m.nbc") == sample()  # no keys: the signature is not asked for
    with pytest.raises(LoadError) as e:
        load_bytes(signed, "m.nbc", [raw(other)])
    assert str(e.value) == f"m.nbc: the module is signed by key {raw(key).hex()[:16]}..., which this VM does not trust"
    with pytest.raises(LoadError) as e:
        load_bytes(SAMPLE_BYTES, "m.nbc", [raw(key)])
    assert str(e.value) == "m.nbc: the module is not signed, and this VM runs only modules signed by a key it trusts"
    changed = bytearray(signed)
    changed[-200] ^= 1
    with pytest.raises(LoadError) as e:
        load_bytes(bytes(changed), "m.nbc", [raw(key)])
    assert str(e.value) == "m.nbc: the module's signature does not match its contents (changed after signing)"
    with pytest.raises(LoadError) as e:  # a damaged trailer: named with the file's path like every refusal
        load_bytes(signed[:-1], "m.nbc", [raw(key)])
    assert str(e.value) == ("m.nbc: signed module file whose signature trailer is missing or damaged "
                            "(95 bytes after the payload, not 96)")


def test_an_unexpected_decoder_failure_is_a_load_error_on_one_line(monkeypatch):
    def broken(data: bytes, path: str | None = None) -> ModuleFile:
        raise RecursionError("maximum recursion\n  depth exceeded")

    monkeypatch.setattr(V, "decode", broken)
    assert load_reason(SAMPLE_BYTES) == "malformed module payload: RecursionError: maximum recursion depth exceeded"

    def long(data: bytes, path: str | None = None) -> ModuleFile:
        raise ValueError("x" * 198 + "\ty")  # 200 characters on one line: kept whole

    monkeypatch.setattr(V, "decode", long)
    assert load_reason(SAMPLE_BYTES) == "malformed module payload: ValueError: " + "x" * 198 + " y"
    monkeypatch.setattr(V, "decode", lambda data, path=None: (_ for _ in ()).throw(ValueError("x" * 201)))
    assert load_reason(SAMPLE_BYTES) == "malformed module payload: ValueError: " + "x" * 200 + "..."


def test_load_runs_the_verifier():
    mf = sample()
    mf.functions[FIB].code[1] = 99  # LOAD_LOCAL 99
    r = load_reason(encode(mf))
    assert r == "function 'fib' instruction 0 (LOAD_LOCAL): local 99 out of range (function has 1)"


# ---------------------------------------------------------------- rule 1: module

def test_module_name():
    assert reason(module(name="1abc")) == "module name '1abc' is not a dotted identifier"
    assert reason(module(name="a..b")) == "module name 'a..b' is not a dotted identifier"
    assert reason(module(name="sp ace")) == "module name 'sp ace' is not a dotted identifier"
    verify(module(name="a.b_2.C"))


def test_module_version():
    for bad in ["1.0", "v1.0.0", "1.0.0.0", "01.2.3", "1.2.3-", "1.2.3\n"]:
        assert "MAJOR.MINOR.PATCH" in reason(module(version=bad)), bad


def test_int_constants_are_64_bit():
    assert reason(module(consts=[2, 1, 2**63])) == "constant 2: integer out of the signed 64-bit range"
    assert reason(module(consts=[-(2**63) - 1])) == 'constant 0: integer out of the signed 64-bit range'
    verify(module(consts=[2, 1, 2**63 - 1, -(2**63)]))
    # through the file too: msgpack can carry up to 2**64 - 1
    data = encode(module(consts=[2, 1, 2**64 - 1]))
    assert "64-bit" in load_reason(data)


def test_constants_of_wrong_python_type():
    assert reason(module(consts=[2, 1, [1]])) == 'constant 2: a list is not a constant'


def test_init_function():
    assert reason(module(init=5)) == "init function index 5 out of range (module has 1)"
    mf = module(func("f", [("RETURN_NONE",)]), init=1)
    assert reason(mf) == "init function 'f' must be of kind init with no parameters (is fn with 0)"
    mf = module()
    mf.functions[0].nparams = mf.functions[0].nlocals = 1
    mf.functions[0].local_names = ["p"]
    assert reason(mf) == "init function '__init__' must be of kind init with no parameters (is init with 1)"


def test_init_function_is_named_init():
    mf = module()
    mf.functions[0].name = "setup"
    assert reason(mf) == "init function 'setup' must be named '__init__'"


def test_entry_function():
    assert reason(module(entry=99)) == 'entry function index 99 out of range (module has 1)'
    assert reason(module(entry=-2)) == 'entry function index -2 out of range (module has 1)'
    assert reason(module(entry=0)) == "entry function '__init__' must be of kind fn with no parameters (is init with 0)"
    mf = sample()
    mf.entry = FIB
    assert reason(mf) == "entry function 'fib' must be of kind fn with no parameters (is fn with 1)"


def test_tests_table():
    mf = sample()
    mf.tests.append(ModTest("bad", 42))
    assert reason(mf) == "test 'bad': function index 42 out of range (module has 9)"
    mf = sample()
    mf.tests.append(ModTest("bad", FIB))
    assert reason(mf) == "test 'bad': function 'fib' must be of kind test with no parameters (is fn with 1)"


def test_index_tables_at_their_edges():
    # one past the last function, the first one (the init), an index that is no int, a kind test
    # taking a parameter: each refused with its own reason
    mf = sample()
    mf.init = 9
    assert reason(mf) == "init function index 9 out of range (module has 9)"
    mf = sample()
    mf.entry = 9
    assert reason(mf) == "entry function index 9 out of range (module has 9)"
    mf = sample()
    mf.entry = "main"
    assert reason(mf) == "entry function index ? out of range (module has 9)"
    for func_index, expected in [
        (9, "test 'bad': function index 9 out of range (module has 9)"),
        ("x", "test 'bad': function index ? out of range (module has 9)"),
        (0, "test 'bad': function '__init__' must be of kind test with no parameters (is init with 0)"),
    ]:
        mf = sample()
        mf.tests.append(ModTest("bad", 0))
        mf.tests[-1].func = func_index
        assert reason(mf) == expected
    mf = sample()
    test_fn = mf.functions[TEST]
    test_fn.nparams = test_fn.nlocals = 1
    test_fn.local_names = ["p"]
    assert reason(mf) == "test 'it works': function '__test_0' must be of kind test with no parameters (is test with 1)"
    mf = sample()
    mf.tests = None
    assert reason(mf) == "module tests must be a list, not NoneType"
    mf = sample()
    mf.tests.append("it")
    assert reason(mf) == "test 1 is not a TestCode"
    mf = sample()
    mf.tests[0].name = 7
    assert reason(mf) == "test 0: name must be a string"
    mf = sample()
    mf.functions[FIB].lines = ["10"] * len(mf.functions[FIB].lines)
    assert reason(mf) == "function 'fib': lines must hold only integers"
    mf = sample()
    mf.functions.append("f")
    assert reason(mf) == "function 9 is not a FunctionCode"
    # the ends of the 64-bit range are integers the messages show; one past them is not
    for value, shown in [(2**63 - 1, "9223372036854775807"), (-2**63, "-9223372036854775808"), (2**63, "?")]:
        mf = sample()
        mf.entry = value
        assert reason(mf) == f"entry function index {shown} out of range (module has 9)"
    # line and column numbers: the 32-bit range, both ends included
    mf = sample()
    mf.functions[FIB].lines[0] = -(1 << 31)
    mf.functions[FIB].cols[0] = (1 << 31) - 1
    verify(mf)


def test_structs():
    S = StructCode
    assert reason(module(structs=[S("P", [], []), S("1P", [], [])])) == "struct 1: name '1P' is not an identifier"
    assert reason(module(structs=[S("P", [], []), S("P", [], [])])) == "struct 1: name 'P' repeated"
    assert reason(module(structs=[S("P", ["x", "x"], ["int", "int"])])) == "struct 'P': field 'x' repeated"
    assert reason(module(structs=[S("P", ["a b"], ["int"])])) == "struct 'P': field name 'a b' is not an identifier"
    assert reason(module(structs=[S("P", ["é"], ["int"])])) == "struct 'P': field name 'é' is not an identifier"
    # Python keywords and dunders are fine: the translator writes obj.f_<name>
    verify(module(structs=[S("P", ["class", "__dict__", "None"], ["int", "int", "int"])]))
    assert reason(module(structs=[S("P", ["x", "y"], ["int"])])) == "struct 'P': 2 fields but 1 field types"
    r = reason(module(structs=[S("P", ["x"], ["List<int"])]))
    assert r.startswith("struct 'P' field 'x': bad type 'List<int'")
    verify(module(structs=[S("P", ["x", "y"], ["Map<str, List<(int, float)>>", "fn(int, Q) -> other.R"])]))


def test_globals():
    G = GlobalCode
    assert reason(module(globals=[G("a-b", "int", True)])) == "global 0: name 'a-b' is not an identifier"
    assert reason(module(globals=[G("g", "int", True), G("g", "int", False)])) == "global 1: name 'g' repeated"
    assert reason(module(globals=[G("g", "int int", True)])) == "global 'g': bad type 'int int': trailing text in type 'int int'"


def test_imports():
    assert reason(module(imports=[ImportCode("std..math")])) == "import 0: module name 'std..math' is not a dotted identifier"


def test_function_signatures():
    mf = sample()
    mf.functions[FIB].signature = "fn(int -> int"
    assert reason(mf).startswith("function 'fib' signature: bad type 'fn(int -> int'")
    mf.functions[FIB].signature = "(" * 20000 + "int"  # deep nesting: RecursionError or a syntax error inside
    assert "bad type" in reason(mf)
    mf.functions[FIB].signature = "int" * 30000
    assert reason(mf) == "function 'fib' signature: type text too long (90000 characters)"


def test_sanity_caps():
    assert reason(module(consts=[None] * 100_001)) == 'too many constants (100001; at most 100000)'
    assert reason(module(names=["x"] * 100_001)) == 'too many names (100001; at most 100000)'
    mf = module()
    mf.functions[0].nlocals = 65_536
    mf.functions[0].local_names = ["v"] * 65_536
    assert reason(mf) == "function '__init__': nlocals 65536 outside 0..65535"
    mf = module()
    mf.functions[0].code = [BY_NAME["NOP"], 0, 0, 0] * 1_000_001
    assert reason(mf) == "function '__init__': too many instructions (1000001; at most 1000000)"


# ---------------------------------------------------------------- rule 2: function headers

def test_function_kind():
    mf = sample()
    mf.functions[FIB].kind = "macro"
    assert reason(mf) == "function 'fib': unknown kind 'macro' (fn, method, lambda, init or test)"


def test_nparams_and_nlocals():
    mf = sample()
    mf.functions[FIB].nparams = 2
    assert reason(mf) == "function 'fib': nparams 2 outside 0..nlocals (1)"
    mf = sample()
    mf.functions[FIB].nparams = -1
    assert reason(mf) == "function 'fib': nparams -1 outside 0..nlocals (1)"
    mf = sample()
    mf.functions[FIB].local_names.append("extra")
    assert reason(mf) == "function 'fib': 2 local names for 1 locals"


def test_depth_and_parent():
    mf = sample()
    mf.functions[FIB].parent = 0
    assert reason(mf) == "function 'fib': a fn function must have parent -1, not 0"
    mf = sample()
    mf.functions[FIB].depth = 1
    assert reason(mf) == "function 'fib': a fn function must have depth 0, not 1"
    mf = sample()
    mf.functions[LAMBDA].parent = -1
    assert reason(mf) == "function '__lambda_0': parent function index -1 out of range (module has 9)"
    mf = sample()
    mf.functions[LAMBDA].depth = 0
    assert reason(mf) == "function '__lambda_0': a lambda's depth must be in 1..32, not 0"
    mf = sample()
    mf.functions[LAMBDA].depth = 2
    assert reason(mf) == "function '__lambda_0': depth 2 but its parent 'make_adder' has depth 0"
    # a cycle of lambdas is impossible: depths must decrease along parent links
    mf = sample()
    lam = mf.functions[LAMBDA]
    lam.parent = LAMBDA
    assert reason(mf) == "function '__lambda_0': depth 1 but its parent '__lambda_0' has depth 1"
    # the kind in the message, with its article
    mf = sample()
    mf.functions[0].depth = 1
    assert reason(mf) == "function '__init__': an init function must have depth 0, not 1"
    mf = sample()
    mf.functions[TEST].parent = 3
    assert reason(mf) == "function '__test_0': a test function must have parent -1, not 3"


def test_module_level_function_names_are_unique():
    mf = sample()
    mf.functions[LOOP_SUM].name = "fib"
    assert reason(mf) == "function 'fib': name repeated"


def test_code_shape():
    mf = sample()
    mf.functions[FIB].code.append(0)
    assert reason(mf) == "function 'fib': code length 77 is not a multiple of 4"
    mf = sample()
    mf.functions[FIB].lines.pop()
    assert reason(mf) == "function 'fib': needs one line and one column per instruction (19)"
    mf = sample()
    mf.functions[FIB].cols.append(3)
    assert reason(mf) == "function 'fib': needs one line and one column per instruction (19)"
    mf = sample()
    f = mf.functions[FIB]
    f.code, f.lines, f.cols = [], [], []
    assert reason(mf) == "function 'fib': no instructions"


def test_wrong_python_types_are_refused():
    mf = sample()
    mf.functions[FIB].code[5] = "0"  # type: ignore[call-overload]
    assert reason(mf) == "function 'fib': code must hold only integers"
    mf = sample()
    mf.functions[FIB].code[5] = True  # type: ignore[call-overload]
    assert reason(mf) == "function 'fib': code must hold only integers"
    mf = sample()
    mf.functions[FIB].nlocals = 1.0  # type: ignore[assignment]
    assert reason(mf) == "function 'fib': nlocals must be a 64-bit integer"
    mf = sample()
    mf.functions[FIB].code[1] = 10**5000  # too long even to print
    assert reason(mf) == "function 'fib': code holds an integer outside the signed 64-bit range"
    mf = sample()
    mf.init = 10**5000
    assert reason(mf) == "init function index ? out of range (module has 9)"
    mf = sample()
    mf.functions = None  # type: ignore[assignment]
    assert reason(mf) == 'module functions must be a list, not NoneType'
    mf = sample()
    mf.structs.append("Point")  # type: ignore[arg-type]
    assert reason(mf) == 'struct 1 is not a StructCode'
    mf = sample()
    mf.names[0] = b"x"  # type: ignore[call-overload]
    assert reason(mf) == 'name 0 is not a string'
    mf = sample()
    mf.functions[FIB].lines[0] = 10**40
    assert reason(mf) == "function 'fib': lines holds a value outside -2147483648..2147483647"
    with pytest.raises(LoadError, match="not a ModuleFile"):
        verify("module")  # type: ignore[arg-type]


# ---------------------------------------------------------------- rule 3: operands

def test_unknown_opcode():
    mf = sample()
    mf.functions[MAIN].code[0] = NUM_OPS
    assert reason(mf) == f"function 'main' instruction 0: unknown opcode {NUM_OPS}"
    mf.functions[MAIN].code[0] = -1
    assert reason(mf) == "function 'main' instruction 0: unknown opcode -1"


@pytest.mark.parametrize("instrs, expected", [
    ([("CONST", 8)], "instruction 0 (CONST): constant index 8 out of range (module has 8)"),
    ([("CONST", -1)], "instruction 0 (CONST): constant index -1 out of range (module has 8)"),
    ([("LOAD_LOCAL", 2)], "instruction 0 (LOAD_LOCAL): local 2 out of range (function has 2)"),
    ([("LOAD_GLOBAL", 1)], "instruction 0 (LOAD_GLOBAL): global index 1 out of range (module has 1)"),
    ([("LOAD_FUNC", 9)], "instruction 0 (LOAD_FUNC): function index 9 out of range (module has 9)"),
    ([("LOAD_MOD", 1, 3)], "instruction 0 (LOAD_MOD): import index 1 out of range (module has 1)"),
    ([("LOAD_MOD", 0, 8)], "instruction 0 (LOAD_MOD): name index 8 out of range (module has 8)"),
    ([("NEW", 1, 0)], "instruction 0 (NEW): struct index 1 out of range (module has 1)"),
    ([("BUILD_LIST", 65_536)], "instruction 0 (BUILD_LIST): count 65536 outside 0..65535"),
    ([("CONST", 0), ("BUILD_RANGE", 2)], "instruction 1 (BUILD_RANGE): flag 2 is not 0 or 1"),
    ([("CONST", 0), ("TUPLE_GET", 256)], "instruction 1 (TUPLE_GET): index 256 outside 0..255"),
    ([("CONST", 0), ("GET_FIELD", 8)], "instruction 1 (GET_FIELD): name index 8 out of range (module has 8)"),
    ([("CONST", 0), ("GET_FIELD", 6)], "instruction 1 (GET_FIELD): field name 'Vec.length' is not an identifier"),
    ([("CONST", 0), ("GET_FIELD", 7)], "instruction 1 (GET_FIELD): field name 'not an id' is not an identifier"),
    ([("NOP", 1)], "instruction 0 (NOP): operands must be 0"),
    ([("LOAD_LOCAL", 0, 1)], "instruction 0 (LOAD_LOCAL): operand b must be 0"),
    ([("CONST", 0), ("CALL_NATIVE", 8, 1)], "instruction 1 (CALL_NATIVE): name index 8 out of range (module has 8)"),
    ([("LOAD_FREE", 1, 0)], "instruction 0 (LOAD_FREE): 1 levels out is outside 1..0 (the function's depth)"),
])
def test_operand_ranges(instrs, expected):
    assert main_reason(instrs + [("RETURN",)]) == "function 'main' " + expected


def test_operand_limits_are_inclusive():
    # the largest count, and the largest overflow-check bits (both bounds proven), are operands
    # like any other: the refusal comes from the stack, not from the operand's range
    r = main_reason([("BUILD_LIST", 65_535), ("RETURN",)])
    assert r == "function 'main' instruction 0 (BUILD_LIST): stack underflow (pops 65535, height 0)"
    for bits in (0, 1, 2, 3):
        verify(with_code(MAIN, [("CONST", 0), ("CONST", 0), ("IADD", bits), ("POP",), ("RETURN_NONE",)]))
    r = main_reason([("CONST", 0), ("CONST", 0), ("IADD", 4), ("POP",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 2 (IADD): overflow-check bits 4 outside 0..3"
    for index in (0, 255):  # a tuple's first and last possible element
        verify(with_code(MAIN, [("CONST", 0), ("TUPLE_GET", index), ("POP",), ("RETURN_NONE",)]))


def test_free_variables_check_the_enclosing_function():
    # make_adder has 1 local; the lambda has 1 local.  A lambda two levels deep sees both.
    mf = sample()
    lam = mf.functions[LAMBDA]
    lam.code[0:4] = [BY_NAME["LOAD_FREE"], 1, 1, 0]
    assert reason(mf) == "function '__lambda_0' instruction 0 (LOAD_FREE): local 1 out of range (function has 1)"
    mf = sample()
    lam = mf.functions[LAMBDA]
    lam.code[0:4] = [BY_NAME["LOAD_FREE"], 2, 0, 0]
    assert reason(mf) == "function '__lambda_0' instruction 0 (LOAD_FREE): 2 levels out is outside 1..1 (the function's depth)"
    # widen the parent: now slot 3 of make_adder is fine although the lambda itself has only 1 local
    mf = sample()
    mf.functions[MAKE_ADDER].nlocals = 4
    mf.functions[MAKE_ADDER].local_names += ["a", "b", "c"]
    lam = mf.functions[LAMBDA]
    lam.code[0:4] = [BY_NAME["LOAD_FREE"], 1, 3, 0]
    verify(mf)
    lam.code[0:4] = [BY_NAME["LOAD_FREE"], 1, 4, 0]
    assert reason(mf) == "function '__lambda_0' instruction 0 (LOAD_FREE): local 4 out of range (function has 4)"


def test_closures_assign_only_variables_their_owner_assigns():
    """The translator writes `nonlocal v0_1`, which Python refuses unless the owner binds v0_1 itself."""
    def build(owner_code: list[Instr], lambda_code: list[Instr]) -> ModuleFile:
        mf = sample()
        with_code(MAKE_ADDER, owner_code, mf, nlocals=3, local_names=["n", "acc", "e"])
        return with_code(LAMBDA, lambda_code, mf)

    store = [("CONST", 0), ("STORE_FREE", 1, 1), ("LOAD_LOCAL", 0), ("RETURN",)]
    closure = [("MAKE_CLOSURE", LAMBDA), ("RETURN",)]
    assert reason(build(closure, store)) == (
        "function '__lambda_0' instruction 1 (STORE_FREE): local 1 of 'make_adder' is never assigned there, "
        "so it cannot be assigned from a closure")
    verify(build([("CONST", 7), ("STORE_LOCAL", 1)] + closure, store))
    verify(build([("CONST", 7), ("CONST", 0), ("CONST", 1), ("FOR_RANGE", 1, None), ("END",)] + closure, store))
    verify(build([("TRY", None), ("CATCH", 1, None, 1), ("END",)] + closure, store))
    assert reason(build([("TRY", None), ("CATCH", 0, None, 0), ("END",)] + closure, store)) == "function '__lambda_0' instruction 1 (STORE_FREE): local 1 of 'make_adder' is never assigned there, so it cannot be assigned from a closure"
    # parameters are bound; reading an unassigned variable is not a compile-time problem
    verify(build(closure, [("CONST", 0), ("STORE_FREE", 1, 0), ("LOAD_FREE", 1, 2), ("RETURN",)]))


def test_nested_lambda_depth_two():
    mf = sample()
    inner = func("__lambda_1", [("LOAD_FREE", 2, 0), ("LOAD_FREE", 1, 0), ("IADD",), ("RETURN",)],
                 kind="lambda", depth=2, parent=LAMBDA)
    mf.functions.append(inner)
    verify(mf)  # nobody makes the closure: harmless
    inner.code[4:8] = [BY_NAME["STORE_FREE"], 3, 0, 0]
    assert reason(mf) == "function '__lambda_1' instruction 1 (STORE_FREE): 3 levels out is outside 1..2 (the function's depth)"


def test_catch_slot_when_error_not_bound():
    mf = sample()
    f = mf.functions[SAFE]
    # TRY NOP CATCH 0 _ 0 END  at 8..11; the unbound error slot must be 0
    assert f.code[10 * 4] == BY_NAME["CATCH"]
    f.code[10 * 4 + 1] = 5
    assert reason(mf) == "function 'safe' instruction 10 (CATCH): error slot must be 0 when the error is not bound"
    f.code[10 * 4 + 1] = 2
    f.code[10 * 4 + 3] = 1
    assert reason(mf) == "function 'safe' instruction 10 (CATCH): local 2 out of range (function has 2)"


# cross checks

def test_call_arity_and_kind():
    assert main_reason([("CALL", FIB, 0), ("RETURN",)]) == \
        "function 'main' instruction 0 (CALL): 'fib' takes 1 arguments, not 0"
    assert main_reason([("CALL", LAMBDA, 1), ("RETURN",)]).endswith("cannot CALL '__lambda_0' of kind lambda")
    assert main_reason([("CALL", TEST, 0), ("RETURN",)]).endswith("cannot CALL '__test_0' of kind test")
    assert main_reason([("CALL", 0, 0), ("RETURN",)]).endswith("cannot CALL '__init__' of kind init")
    assert main_reason([("CALL", 9, 0), ("RETURN",)]).endswith("function index 9 out of range (module has 9)")


def test_method_calls():
    mf = sample()
    mf.functions.append(func("Point.norm", [("LOAD_LOCAL", 0), ("GET_FIELD", 0), ("RETURN",)],
                             kind="method", params=["self"], signature="fn(Point) -> int"))
    with_code(MAIN, [("CONST", 0), ("CONST", 1), ("NEW", 0, 2), ("CALL", 9, 1), ("RETURN",)], mf)
    verify(mf)


def test_load_func_kind():
    assert main_reason([("LOAD_FUNC", LAMBDA), ("RETURN",)]).endswith(
        "cannot load '__lambda_0' of kind lambda as a value")


def test_make_closure():
    assert main_reason([("MAKE_CLOSURE", FIB), ("RETURN",)]) == \
        "function 'main' instruction 0 (MAKE_CLOSURE): 'fib' is a fn, not a lambda"
    assert main_reason([("MAKE_CLOSURE", LAMBDA), ("RETURN",)]) == \
        "function 'main' instruction 0 (MAKE_CLOSURE): lambda '__lambda_0' belongs to function 5, not 7"


def test_new_field_count():
    assert main_reason([("CONST", 0), ("NEW", 0, 1), ("RETURN",)]) == \
        "function 'main' instruction 1 (NEW): struct 'Point' has 2 fields, not 1"


def test_call_native(monkeypatch):
    instrs = [("CONST", 0), ("CONST", 1), ("CALL_NATIVE", 0, 2), ("RETURN",)]
    assert main_reason(instrs) == "function 'main' instruction 2 (CALL_NATIVE): unknown native 'x'"
    monkeypatch.setitem(NATIVES, "x", Native("x", 1, abs))  # looked up at verify time
    assert main_reason(instrs) == "function 'main' instruction 2 (CALL_NATIVE): native 'x' takes 1 arguments, not 2"
    monkeypatch.setitem(NATIVES, "x", Native("x", 2, pow))
    verify(with_code(MAIN, instrs))
    monkeypatch.setitem(NATIVES, "x", Native("x", -1, print))
    verify(with_code(MAIN, instrs))
    monkeypatch.delitem(NATIVES, "x")
    assert main_reason(instrs) == "function 'main' instruction 2 (CALL_NATIVE): unknown native 'x'"


def test_module_export_names_are_dotted_identifiers():
    assert main_reason([("CALL_MOD", 0, 7, 0), ("RETURN",)]) == \
        "function 'main' instruction 0 (CALL_MOD): export name 'not an id' is not a dotted identifier"
    assert main_reason([("LOAD_MOD", 0, 7), ("RETURN",)]).endswith("export name 'not an id' is not a dotted identifier")
    # methods of imported structs are exported as Struct.method; the translator looks them up as M0['Vec.length']
    verify(with_code(MAIN, [("CONST", 0), ("CALL_MOD", 0, 6, 1), ("POP",), ("LOAD_MOD", 0, 5), ("RETURN",)]))


def test_field_names_are_identifiers():
    verify(with_code(MAIN, [("CONST", 0), ("GET_FIELD", 5), ("RETURN",)]))  # 'class': obj.f_class


# ---------------------------------------------------------------- rule 4: structure

def test_if_target_must_name_its_else_or_end():
    r = main_reason([("CONST", 6), ("IF", 4), ("NOP",), ("ELSE", None), ("NOP",), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 1 (IF): target 4 should be 3 (its ELSE)"
    r = main_reason([("CONST", 6), ("IF", 2), ("NOP",), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 1 (IF): target 2 should be 3 (its END)"


def test_else_target_and_placement():
    r = main_reason([("CONST", 6), ("IF", None), ("ELSE", 5), ("NOP",), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 2 (ELSE): target 5 should be 4 (its END)"
    r = main_reason([("LOOP", None), ("BREAK",), ("ELSE", None), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 2 (ELSE): ELSE inside a LOOP region (opened at 0)"
    r = main_reason([("CONST", 6), ("IF", None), ("ELSE", None), ("ELSE", None), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 3 (ELSE): second ELSE in the IF region opened at 1"
    assert main_reason([("ELSE", 1), ("RETURN_NONE",)]).endswith("(ELSE): outside any region")


def test_try_catch():
    r = main_reason([("TRY", 2), ("NOP",), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 2 (END): the TRY region opened at 0 has no CATCH"
    r = main_reason([("TRY", 3), ("NOP",), ("CATCH", 0, None), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 0 (TRY): target 3 should be 2 (its CATCH)"
    r = main_reason([("TRY", None), ("CATCH", 0, 4), ("NOP",), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 1 (CATCH): target 4 should be 3 (its END)"
    r = main_reason([("TRY", None), ("CATCH", 0, None), ("CATCH", 0, None), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 2 (CATCH): second CATCH in the TRY region opened at 0"
    r = main_reason([("CONST", 6), ("IF", None), ("CATCH", 0, None), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 2 (CATCH): CATCH inside a IF region (opened at 1)"


def test_loop_targets():
    r = main_reason([("LOOP", 3), ("BREAK",), ("END",), ("NOP",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 0 (LOOP): target 3 should be 2 (its END)"
    r = main_reason([("CONST", 7), ("CONST", 2), ("CONST", 1), ("FOR_RANGE", 0, 6), ("END",), ("NOP",),
                     ("RETURN_NONE",)])
    assert r == "function 'main' instruction 3 (FOR_RANGE): target 6 should be 4 (its END)"
    r = main_reason([("CONST", 3), ("FOR_EACH", 1, 1), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 1 (FOR_EACH): target 1 out of range (must be after 1 and before 4)"
    r = main_reason([("NOP",), ("LOOP", 0), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 1 (LOOP): target 0 out of range (must be after 1 and before 4)"
    r = main_reason([("LOOP", 9), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 0 (LOOP): target 9 out of range (must be after 0 and before 3)"
    r = main_reason([("LOOP", 3), ("END",), ("RETURN_NONE",)])  # one past the last instruction
    assert r == "function 'main' instruction 0 (LOOP): target 3 out of range (must be after 0 and before 3)"


def test_expression_regions():
    r = main_reason([("CONST", 6), ("AND", 3), ("CONST", 6), ("NOP",), ("END_EXPR",), ("RETURN",)])
    assert r == "function 'main' instruction 3 (NOP): statement inside an expression region"
    r = main_reason([("CONST", 6), ("AND", 4), ("CONST", 6), ("END_EXPR",), ("NOP",), ("RETURN",)])
    assert r == "function 'main' instruction 1 (AND): target 4 should be 3 (its END_EXPR)"
    r = main_reason([("CONST", 6), ("COND", None), ("CONST", 1), ("END_EXPR",), ("RETURN",)])
    assert r == "function 'main' instruction 3 (END_EXPR): the COND region opened at 1 has no ELSE_EXPR"
    r = main_reason([("CONST", 6), ("OR", None), ("CONST", 1), ("ELSE_EXPR", None), ("CONST", 1),
                     ("END_EXPR",), ("RETURN",)])
    assert r == "function 'main' instruction 3 (ELSE_EXPR): ELSE_EXPR inside an OR region (opened at 1)"
    r = main_reason([("CONST", 6), ("COND", None), ("CONST", 1), ("ELSE_EXPR", None), ("CONST", 1),
                     ("ELSE_EXPR", None), ("CONST", 1), ("END_EXPR",), ("RETURN",)])
    assert r == "function 'main' instruction 5 (ELSE_EXPR): second ELSE_EXPR in the COND region opened at 1"
    r = main_reason([("CONST", 6), ("COND", 4), ("CONST", 1), ("ELSE_EXPR", None), ("CONST", 1),
                     ("END_EXPR",), ("RETURN",)])
    assert r == "function 'main' instruction 1 (COND): target 4 should be 3 (its ELSE_EXPR)"
    r = main_reason([("CONST", 6), ("COND", None), ("CONST", 1), ("ELSE_EXPR", 4), ("CONST", 1),
                     ("END_EXPR",), ("RETURN",)])
    assert r == "function 'main' instruction 3 (ELSE_EXPR): target 4 should be 5 (its END_EXPR)"
    assert main_reason([("CONST", 1), ("END_EXPR",), ("RETURN",)]).endswith(
        "instruction 1 (END_EXPR): outside an AND/OR/COND region")
    assert main_reason([("CONST", 1), ("ELSE_EXPR", 2), ("RETURN",)]).endswith("outside an AND/OR/COND region")
    # statement regions cannot open or close inside an expression region
    r = main_reason([("CONST", 6), ("AND", None), ("LOOP", None), ("END",), ("CONST", 1), ("END_EXPR",), ("RETURN",)])
    assert r == "function 'main' instruction 2 (LOOP): region opener inside an expression region"
    r = main_reason([("LOOP", None), ("CONST", 6), ("AND", None), ("END",), ("END_EXPR",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 3 (END): region end inside an expression region"
    # but expression regions nest in each other
    verify(with_code(MAIN, [("CONST", 6), ("AND", None), ("CONST", 6), ("COND", None), ("CONST", 6),
                            ("OR", None), ("CONST", 6), ("END_EXPR",), ("ELSE_EXPR", None), ("CONST", 6),
                            ("END_EXPR",), ("END_EXPR",), ("RETURN",)]))


def test_loop_control_needs_a_loop():
    assert main_reason([("BREAK",), ("RETURN_NONE",)]) == "function 'main' instruction 0 (BREAK): not inside a loop"
    assert main_reason([("CONTINUE",), ("RETURN_NONE",)]).endswith("(CONTINUE): not inside a loop")
    assert main_reason([("CONST", 6), ("BREAK_IF_FALSE",), ("RETURN_NONE",)]).endswith(
        "(BREAK_IF_FALSE): not inside a loop")
    r = main_reason([("LOOP", None), ("BREAK",), ("END",), ("CONTINUE",), ("RETURN_NONE",)])
    assert r.endswith("instruction 3 (CONTINUE): not inside a loop")
    # inside TRY/CATCH/IF inside a loop is fine
    verify(with_code(MAIN, [("LOOP", None), ("TRY", None), ("BREAK",), ("CATCH", 0, None), ("CONTINUE",),
                            ("END",), ("CONST", 6), ("IF", None), ("BREAK",), ("END",), ("END",),
                            ("RETURN_NONE",)]))


def test_regions_must_close_and_code_must_end_with_a_return():
    r = main_reason([("LOOP", 2), ("BREAK",), ("RETURN_NONE",)])
    assert r == "function 'main': region LOOP at instruction 0 is not closed at the end of the code"
    r = main_reason([("CONST", 6), ("IF", 3), ("LOOP", 4), ("ELSE", 5), ("END",), ("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 3 (ELSE): ELSE inside a LOOP region (opened at 2)"
    r = main_reason([("END",), ("RETURN_NONE",)])
    assert r == "function 'main' instruction 0 (END): END without an open region"
    r = main_reason([("CONST", 0), ("POP",)])
    assert r == "function 'main' instruction 1 (POP): the last instruction must be RETURN, RETURN_NONE or THROW"
    r = main_reason([("CONST", 6), ("IF", None), ("RETURN_NONE",), ("ELSE", None), ("RETURN_NONE",), ("END",)])
    assert r.endswith("instruction 5 (END): the last instruction must be RETURN, RETURN_NONE or THROW")
    verify(with_code(MAIN, [("CONST", 3), ("THROW",)]))


# ---------------------------------------------------------------- rule 5: operand stack

def test_stack_underflow():
    assert main_reason([("IADD",), ("RETURN",)]) == \
        "function 'main' instruction 0 (IADD): stack underflow (pops 2, height 0)"
    assert main_reason([("RETURN",)]) == "function 'main' instruction 0 (RETURN): stack underflow (pops 1, height 0)"
    assert "stack underflow (pops 3, height 2)" in main_reason(
        [("CONST", 0), ("CONST", 0), ("FOR_RANGE", 0, None), ("END",), ("RETURN_NONE",)])
    assert "stack underflow (pops 3, height 2)" in main_reason([("CONST", 0), ("CONST", 0), ("BUILD_TUPLE", 3),
                                                                ("RETURN",)])
    assert "(CALL_VALUE): stack underflow (pops 2, height 1)" in main_reason([("CONST", 0), ("CALL_VALUE", 1),
                                                                             ("RETURN",)])
    # an expression region's inner part cannot pop what was pushed before it
    r = main_reason([("CONST", 0), ("CONST", 6), ("AND", None), ("CONST", 0), ("IADD",), ("END_EXPR",),
                     ("RETURN",)])
    assert r.endswith("instruction 4 (IADD): pops 2 but its AND region (opened at 2) has only 1 values of its own")


def test_value_left_on_the_stack():
    assert main_reason([("CONST", 0), ("CONST", 0), ("STORE_LOCAL", 0), ("RETURN_NONE",)]) == \
        "function 'main' instruction 2 (STORE_LOCAL): value left on the stack (height 1)"
    assert main_reason([("CONST", 0), ("LOOP", None), ("END",), ("RETURN_NONE",)]) == \
        "function 'main' instruction 1 (LOOP): value left on the stack (height 1)"
    assert main_reason([("CONST", 6), ("CONST", 6), ("IF", None), ("END",), ("RETURN_NONE",)]).endswith(
        "instruction 2 (IF): value left on the stack (height 1)")
    assert main_reason([("LOOP", None), ("CONST", 0), ("END",), ("RETURN_NONE",)]).endswith(
        "instruction 2 (END): value left on the stack (height 1)")
    assert main_reason([("CONST", 6), ("IF", None), ("CONST", 0), ("ELSE", None), ("END",),
                        ("RETURN_NONE",)]).endswith("instruction 3 (ELSE): value left on the stack (height 1)")
    assert main_reason([("TRY", None), ("CONST", 0), ("CATCH", 0, None), ("END",), ("RETURN_NONE",)]).endswith(
        "instruction 2 (CATCH): value left on the stack (height 1)")


def test_expression_regions_leave_exactly_one_value():
    r = main_reason([("CONST", 6), ("AND", None), ("CONST", 6), ("CONST", 6), ("END_EXPR",), ("RETURN",)])
    assert r == "function 'main' instruction 4 (END_EXPR): the region must leave exactly one value (leaves 2)"
    r = main_reason([("CONST", 6), ("OR", None), ("END_EXPR",), ("RETURN",)])
    assert r.endswith("instruction 2 (END_EXPR): the region must leave exactly one value (leaves 0)")
    r = main_reason([("CONST", 6), ("COND", None), ("ELSE_EXPR", None), ("CONST", 1), ("END_EXPR",), ("RETURN",)])
    assert r.endswith("instruction 2 (ELSE_EXPR): the region must leave exactly one value (leaves 0)")
    r = main_reason([("CONST", 6), ("COND", None), ("CONST", 1), ("ELSE_EXPR", None), ("END_EXPR",), ("RETURN",)])
    assert r.endswith("instruction 4 (END_EXPR): the region must leave exactly one value (leaves 0)")
    # the part after an AND keeps the values below it: 1 + (b and c)
    verify(with_code(MAIN, [("CONST", 1), ("CONST", 6), ("AND", None), ("CONST", 6), ("END_EXPR",),
                            ("IADD",), ("RETURN",)]))
    # ... but cannot consume them
    r = main_reason([("CONST", 1), ("CONST", 6), ("AND", None), ("POP",), ("CONST", 6), ("END_EXPR",),
                     ("RETURN",)])
    assert r == "function 'main' instruction 3 (POP): statement inside an expression region"
    r = main_reason([("CONST", 1), ("CONST", 6), ("AND", None), ("CONST", 6), ("IADD",), ("CONST", 6),
                     ("END_EXPR",), ("RETURN",)])
    assert r == ("function 'main' instruction 4 (IADD): pops 2 but its AND region (opened at 2) "
                 "has only 1 values of its own")
    r = main_reason([("CONST", 1), ("CONST", 6), ("COND", None), ("CONST", 6), ("ELSE_EXPR", None),
                     ("CONST", 6), ("CONST", 6), ("AND", None), ("BUILD_LIST", 2), ("END_EXPR",), ("END_EXPR",),
                     ("RETURN",)])
    assert r.endswith("instruction 8 (BUILD_LIST): pops 2 but its AND region (opened at 7) "
                      "has only 0 values of its own")
    # a region that starts above other values counts only its own
    r = main_reason([("CONST", 1), ("CONST", 6), ("AND", None), ("CONST", 6), ("CONST", 6), ("END_EXPR",),
                     ("IADD",), ("RETURN",)])
    assert r == "function 'main' instruction 5 (END_EXPR): the region must leave exactly one value (leaves 2)"
    # the opener is named, not the ELSE_EXPR after it
    r = main_reason([("CONST", 1), ("CONST", 6), ("COND", None), ("CONST", 6), ("ELSE_EXPR", None), ("CONST", 6),
                     ("IADD",), ("END_EXPR",), ("IADD",), ("RETURN",)])
    assert r == ("function 'main' instruction 6 (IADD): pops 2 but its COND region (opened at 2) "
                 "has only 1 values of its own")
    # after a nested region closes, the enclosing one's floor holds again
    r = main_reason([("CONST", 1), ("CONST", 6), ("AND", None), ("CONST", 6), ("OR", None), ("CONST", 6),
                     ("END_EXPR",), ("IADD",), ("END_EXPR",), ("IADD",), ("RETURN",)])
    assert r == ("function 'main' instruction 7 (IADD): pops 2 but its AND region (opened at 2) "
                 "has only 1 values of its own")


def test_max_stack_height():
    r = main_reason([("CONST", 0)] * 1025 + [("BUILD_LIST", 1025), ("RETURN",)])
    assert r == "function 'main' instruction 1024 (CONST): operand stack deeper than 1024"
    verify(with_code(MAIN, [("CONST", 0)] * 1024 + [("BUILD_LIST", 1024), ("RETURN",)]))


def test_nesting_limits():
    deep_ifs = [("CONST", 6), ("IF", None)] * 64 + [("NOP",)] + [("END",)] * 64 + [("RETURN_NONE",)]
    verify(with_code(MAIN, deep_ifs))
    too_deep = [("CONST", 6), ("IF", None)] * 65 + [("NOP",)] + [("END",)] * 65 + [("RETURN_NONE",)]
    assert main_reason(too_deep).endswith("instruction 129 (IF): regions nested too deeply (at most 64)")
    loops = [("LOOP", None)] * 16 + [("BREAK",)] + [("END",)] * 16 + [("RETURN_NONE",)]
    verify(with_code(MAIN, loops))
    loops = [("LOOP", None)] * 17 + [("BREAK",)] + [("END",)] * 17 + [("RETURN_NONE",)]
    assert main_reason(loops).endswith(
        "instruction 16 (LOOP): loops and try blocks nested too deeply (cost 17, at most 16)")
    # an except handler costs 2
    handlers = [("TRY", None), ("CATCH", 0, None)] * 8 + [("NOP",)] + [("END",)] * 8 + [("RETURN_NONE",)]
    verify(with_code(MAIN, handlers))
    handlers = [("LOOP", None)] + handlers[:-1] + [("END",), ("RETURN_NONE",)]
    assert main_reason(handlers) == "function 'main' instruction 16 (CATCH): loops and try blocks nested too deeply (cost 17, at most 16)"
    xs = [("CONST", 6)] + [("AND", None), ("CONST", 6)] * 65 + [("END_EXPR",)] * 65 + [("RETURN",)]
    assert main_reason(xs) == "function 'main' instruction 129 (AND): regions nested too deeply (at most 64)"


def test_function_headers_at_their_edges(monkeypatch):
    def fib_reason(**fields) -> str:
        mf = sample()
        for k, v in fields.items():
            setattr(mf.functions[FIB], k, v)
        return reason(mf)

    assert fib_reason(code=None) == "function 'fib': code must be a list"
    assert fib_reason(name=3) == "function 1: name must be a string"
    assert fib_reason(display=None) == "function 'fib': display must be a string"
    assert fib_reason(exported=1) == "function 'fib': exported must be a bool"
    assert fib_reason(local_names=[1]) == "function 'fib': local_names must be a list of strings"
    assert fib_reason(local_names=None) == "function 'fib': local_names must be a list of strings"
    assert fib_reason(cols=None) == "function 'fib': needs one line and one column per instruction (19)"
    assert fib_reason(nlocals=65_535) == "function 'fib': 1 local names for 65535 locals"  # the largest is allowed
    code = sample().functions[FIB].code
    for value in (-2**63, 2**63 - 1):  # the ends of the range are integers of the file (a bad index here)
        assert fib_reason(code=[code[0], value] + code[2:]) == \
            f"function 'fib' instruction 0 (LOAD_LOCAL): local {value} out of range (function has 1)"
    mf = sample()
    mf.functions[0].parent = 3
    assert reason(mf) == "function '__init__': an init function must have parent -1, not 3"
    # a lambda's depth up to 32 and its parent from 0 (the init) to the last function
    mf = sample()
    mf.functions[LAMBDA].depth = 32
    assert reason(mf) == "function '__lambda_0': depth 32 but its parent 'make_adder' has depth 0"
    mf = sample()
    mf.functions[LAMBDA].parent = 0
    assert reason(mf) == ("function 'make_adder' instruction 0 (MAKE_CLOSURE): "
                          "lambda '__lambda_0' belongs to function 0, not 5")
    mf = sample()
    mf.functions[LAMBDA].parent = 9
    assert reason(mf) == "function '__lambda_0': parent function index 9 out of range (module has 9)"
    # at most MAX_INSTRS instructions, that many included (a small limit here: a million is slow)
    monkeypatch.setattr(V, "MAX_INSTRS", 3)
    verify(module(init_code=INIT))
    assert reason(module(init_code=[("NOP",)] + INIT)) == \
        "function '__init__': too many instructions (4; at most 3)"


def test_imports_columns_and_names_at_their_edges():
    assert reason(module(imports=None)) == "module imports must be a list, not NoneType"
    assert reason(module(imports=[ImportCode("std.math"), "std.io"])) == "import 1 is not an ImportCode"
    assert reason(module(imports=[ImportCode("std.math", 1)])) == "import 0: version and hash must be strings"
    assert reason(module(imports=[ImportCode("std.math", "1.0.0", 3)])) == \
        "import 0: version and hash must be strings"
    mf = sample()
    mf.functions[FIB].lines[1] = (1 << 31) - 1
    mf.functions[FIB].cols[1] = -(1 << 31)
    verify(mf)
    for bad in (1 << 31, -(1 << 31) - 1):
        mf = sample()
        mf.functions[FIB].cols[2] = bad
        assert reason(mf) == "function 'fib': cols holds a value outside -2147483648..2147483647"
    # lambdas may share a name (only module-level functions are looked up by name)
    mf = sample()
    mf.functions.append(mf.functions[LAMBDA])
    verify(mf)
    mf = sample()
    mf.functions[FIB].signature = 3
    assert reason(mf) == "function 'fib' signature: type text must be a string"
    mf = sample()
    mf.functions[FIB].signature = "int " + "x" * 150  # the parser's reason cut at 120 characters
    assert reason(mf) == ("function 'fib' signature: bad type 'int " + "x" * 56 + "'...: "
                          + ("trailing text in type 'int " + "x" * 150)[:120] + "...")


def test_regions_named_by_their_openers():
    # after its divider, a region is still named by the instruction that opened it
    r = main_reason([("NOP",), ("TRY", None), ("NOP",), ("CATCH", 0, None), ("ELSE", None), ("END",),
                     ("RETURN_NONE",)])
    assert r == "function 'main' instruction 4 (ELSE): ELSE inside a TRY region (opened at 1)"
    r = main_reason([("NOP",), ("CONST", 6), ("IF", None), ("ELSE", None), ("CATCH", 0, None), ("END",),
                     ("RETURN_NONE",)])
    assert r == "function 'main' instruction 4 (CATCH): CATCH inside a IF region (opened at 2)"
    r = main_reason([("NOP",), ("CONST", 6), ("IF", 3), ("ELSE", 4), ("RETURN_NONE",)])
    assert r == "function 'main': region IF at instruction 2 is not closed at the end of the code"


def test_block_costs_end_with_their_regions():
    # an else branch costs nothing, and a closed loop gives its cost back: 16 loops fit after either
    sixteen = [("LOOP", None)] * 16 + [("BREAK",)] + [("END",)] * 16
    verify(with_code(MAIN, [("CONST", 6), ("IF", None), ("NOP",), ("ELSE", None)] + sixteen
                     + [("END",), ("RETURN_NONE",)]))
    verify(with_code(MAIN, [("LOOP", None), ("BREAK",), ("END",)] + sixteen + [("RETURN_NONE",)]))


def test_error_carries_the_path():
    mf = sample()
    mf.functions[FIB].code[1] = 99
    with pytest.raises(LoadError) as e:
        verify(mf, "lib/fib.nbc")
    assert e.value.path == "lib/fib.nbc"
    assert str(e.value) == "lib/fib.nbc: function 'fib' instruction 0 (LOAD_LOCAL): local 99 out of range (function has 1)"


def test_hostile_names_are_quoted_short_and_on_one_line():
    mf = sample()
    mf.functions[FIB].name = "evil\nname" + "x" * 500
    mf.functions[FIB].code[1] = 99
    r = reason(mf)
    assert r.startswith("function 'evil\\nnamexxx") and "..." in r and len(r) < 200


LONE = "a\udc80b"  # a lone surrogate: what os.fsdecode makes of an undecodable byte


def _set_text(mf: ModuleFile, where: str, text: str) -> None:
    """Put `text` in one of the module's text fields."""
    fib = mf.functions[FIB]
    if where in ("source_file", "source_hash", "compiler"):
        setattr(mf, where, text)
    elif where == "constant":
        mf.consts[3] = text
    elif where == "name":
        mf.names[7] = text
    elif where == "function name":
        fib.name = text
    elif where == "display":
        fib.display = text
    elif where == "local name":
        fib.local_names = [text]
    elif where == "signature":
        fib.signature = f"fn({text}) -> int"
    elif where == "import version":
        mf.imports[0].version = text
    elif where == "import hash":
        mf.imports[0].hash = text
    elif where == "test name":
        mf.tests[0].name = text


TEXT_FIELDS = {
    "source_file": "module source_file 'a\\udc80b' is not valid text (a lone surrogate at 1)",
    "source_hash": "module source_hash 'a\\udc80b' is not valid text (a lone surrogate at 1)",
    "compiler": "module compiler 'a\\udc80b' is not valid text (a lone surrogate at 1)",
    "constant": "constant 3: 'a\\udc80b' is not valid text (a lone surrogate at 1)",
    "name": "name 7 'a\\udc80b' is not valid text (a lone surrogate at 1)",
    "function name": "function 1: name 'a\\udc80b' is not valid text (a lone surrogate at 1)",
    "display": "function 'fib': display 'a\\udc80b' is not valid text (a lone surrogate at 1)",
    "local name": "function 'fib': local name 0 'a\\udc80b' is not valid text (a lone surrogate at 1)",
    "signature": "function 'fib' signature: type text 'fn(a\\udc80b) -> int' is not valid text (a lone surrogate at 4)",
    "import version": "import 0: version 'a\\udc80b' is not valid text (a lone surrogate at 1)",
    "import hash": "import 0: hash 'a\\udc80b' is not valid text (a lone surrogate at 1)",
    "test name": "test 0: name 'a\\udc80b' is not valid text (a lone surrogate at 1)",
}


@pytest.mark.parametrize("where", list(TEXT_FIELDS))
def test_every_text_of_a_module_is_valid_utf8(where):
    # a module made in memory (by a host, or from a path with undecodable bytes) can hold a lone
    # surrogate that no module file can: refused here, not a UnicodeEncodeError in the translator
    mf = sample()
    _set_text(mf, where, LONE)
    assert reason(mf) == TEXT_FIELDS[where]
    # text beyond ASCII is fine, in every field (the check is for surrogates, not for ASCII)
    mf = sample()
    _set_text(mf, where, "é\u00ff\U0001F600" if where != "signature" else "int")
    verify(mf)
    load_bytes(encode(mf))


def test_a_surrogate_pair_half_is_refused_wherever_it_is():
    mf = sample()
    mf.names[7] = "ok" + "é" * 70 + "\ud83d"  # a high half alone, past the quotation's cut
    assert reason(mf) == "name 7 'ok" + "é" * 58 + "'... is not valid text (a lone surrogate at 72)"
    mf = sample()
    mf.functions[MAIN].local_names = ["p", "\udfff"]  # the second local, the last code point of the range
    assert reason(mf) == "function 'main': local name 1 '\\udfff' is not valid text (a lone surrogate at 0)"


@pytest.mark.slow  # a timing: `make test-slow`, not `make test` (the machine's load would decide it)
def test_verifier_time_grows_linearly():
    import time

    def seconds(copies: int) -> float:
        body = [("LOAD_LOCAL", 0), ("CONST", 1), ("IADD",), ("STORE_LOCAL", 0),
                ("LOAD_LOCAL", 0), ("CONST", 2), ("GT",), ("IF", None), ("BREAK",), ("END",)]
        mf = with_code(MAIN, [("LOOP", None)] + body * copies + [("END",), ("RETURN_NONE",)])
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            verify(mf)
            best = min(best, time.perf_counter() - t)
        return best

    # ten times the code takes about ten times as long (a quadratic verifier: a hundred)
    assert seconds(20_000) < 30 * seconds(2_000)


# ---------------------------------------------------------------- properties

def reference_walk(mf: ModuleFile) -> None:
    """An independent re-check of what the translator relies on, for modules verify() accepted."""
    limits = {"const": len(mf.consts), "name": len(mf.names), "field": len(mf.names), "func": len(mf.functions),
              "global": len(mf.globals), "struct": len(mf.structs), "module": len(mf.imports)}
    for fi, fn in enumerate(mf.functions):
        code = fn.code
        n = len(code) // WORDS_PER_INSTR
        assert n >= 1 and len(fn.lines) == len(fn.cols) == n and len(fn.local_names) == fn.nlocals
        regions: list[tuple[str, int]] = []  # (role family, height at the start of the region)
        h = 0
        for i in range(n):
            op, a, b, c = code[4 * i: 4 * i + 4]
            assert 0 <= op < NUM_OPS
            info = OPS[op]
            for kind, v in zip(info.operands, (a, b, c)):
                if kind in limits:
                    assert 0 <= v < limits[kind], (fi, i, kind, v)
                elif kind == "local":
                    assert 0 <= v < 65_536
                elif kind == "target":
                    assert i < v < n
                    tr = OPS[code[4 * v]].role
                    assert tr in ("mid", "close", "xmid", "xclose"), (fi, i, v, tr)
                elif kind == "":
                    assert v == 0
            if info.operands[1] == "local" and info.operands[0] == "up":
                owner = fn
                for _ in range(a):
                    owner = mf.functions[owner.parent]
                assert 0 <= b < owner.nlocals
            elif info.operands[0] == "local" and not (info.name == "CATCH" and c == 0):
                assert a < fn.nlocals
            if info.operands[0] == "field":
                assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", mf.names[a])
            if info.name in ("CALL_MOD", "LOAD_MOD"):
                assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) for part in mf.names[b].split("."))
            pops, pushes = info.effect(a, b, c)
            h -= pops
            floor = max([base for fam, base in regions if fam == "x"], default=0)
            assert h >= floor  # a region never eats values from before it
            if info.role in ("open", "xopen"):
                regions.append(("x" if info.role == "xopen" else "s", h))
            elif info.role in ("close", "xclose"):
                fam, base = regions.pop()
                assert fam == ("x" if info.role == "xclose" else "s")
                assert fam == "s" or h == base + 1
            elif info.role in ("mid", "xmid"):
                assert regions and regions[-1][0] == ("x" if info.role == "xmid" else "s")
                if info.role == "xmid":
                    assert h == regions[-1][1] + 1
                    h = regions[-1][1]
            if info.role in ("stmt", "open", "mid", "close"):
                assert h == 0 and all(fam == "s" for fam, _ in regions)
            h += pushes
            assert h <= 1024
        assert not regions
        assert OPS[code[-4]].name in ("RETURN", "RETURN_NONE", "THROW")


def _accepts(mf: ModuleFile) -> bool:
    try:
        verify(mf)
    except LoadError as e:
        assert not e.reason.startswith("internal verifier error"), e.reason
        assert "\n" not in e.reason
        return False
    return True


SAMPLE_BYTES = encode(sample())
_PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPS
@given(st.data())
def test_byte_mutations_only_raise_load_error(data):
    buf = bytearray(SAMPLE_BYTES)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "set"]))
        pos = data.draw(st.integers(0, max(len(buf) - 1, 0)))
        if kind == "flip" and buf:
            buf[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "set" and buf:
            buf[pos] = data.draw(st.integers(0, 255))
        elif kind == "insert":
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del buf[pos:pos + data.draw(st.integers(1, 8))]
        else:
            del buf[pos:]
    try:
        mf = load_bytes(bytes(buf))
    except LoadError as e:
        assert not e.reason.startswith("internal verifier error"), e.reason
    else:
        reference_walk(mf)


@_PROPS
@given(st.data())
def test_payload_mutations_with_valid_checksum_only_raise_load_error(data):
    """Mutate the msgpack payload itself and re-seal it, so decode's schema check and verify both run."""
    payload = bytearray(SAMPLE_BYTES[mfile.HEADER_SIZE:])
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(payload) - 1))
        payload[pos] = data.draw(st.integers(0, 255))
    digest = hashlib.blake2b(bytes(payload), digest_size=32).digest()
    blob = struct.pack("<8sHHI32s", mfile.MAGIC, mfile.FORMAT_VERSION, 0, len(payload), digest) + payload
    try:
        mf = load_bytes(blob)
    except LoadError as e:
        assert not e.reason.startswith("internal verifier error"), e.reason
    else:
        reference_walk(mf)


_INTERESTING = st.one_of(st.integers(-3, 12), st.sampled_from([64, 255, 256, 1024, 65_535, 65_536, 2**31,
                                                                  2**63 - 1, -(2**63)]))
_MUTATIONS = ["opcode", "operand", "delete", "duplicate", "swap", "header", "entry", "natives_name", "const",
              "local_names", "struct_fields"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_structural_mutations_only_raise_load_error(data):
    mf = decode(SAMPLE_BYTES)
    for _ in range(data.draw(st.integers(1, 3))):
        fn = mf.functions[data.draw(st.integers(0, len(mf.functions) - 1))]
        n = len(fn.code) // 4
        what = data.draw(st.sampled_from(_MUTATIONS))
        i = data.draw(st.integers(0, max(n - 1, 0)))
        if what == "opcode" and n:
            fn.code[4 * i] = data.draw(st.integers(-1, NUM_OPS))
        elif what == "operand" and n:
            fn.code[4 * i + data.draw(st.integers(1, 3))] = data.draw(_INTERESTING)
        elif what == "delete" and n:
            del fn.code[4 * i: 4 * i + 4]
            if data.draw(st.booleans()) and i < min(len(fn.lines), len(fn.cols)):
                del fn.lines[i], fn.cols[i]
        elif what == "duplicate" and n:
            fn.code[4 * i: 4 * i] = fn.code[4 * i: 4 * i + 4]
            if data.draw(st.booleans()):
                fn.lines.insert(i, 1)
                fn.cols.insert(i, 1)
        elif what == "swap" and n:
            j = data.draw(st.integers(0, n - 1))
            fn.code[4 * i: 4 * i + 4], fn.code[4 * j: 4 * j + 4] = fn.code[4 * j: 4 * j + 4], fn.code[4 * i: 4 * i + 4]
        elif what == "header":
            attr = data.draw(st.sampled_from(["nparams", "nlocals", "depth", "parent"]))
            setattr(fn, attr, data.draw(_INTERESTING))
        elif what == "entry":
            setattr(mf, data.draw(st.sampled_from(["init", "entry"])), data.draw(_INTERESTING))
        elif what == "natives_name":
            mf.names[data.draw(st.integers(0, len(mf.names) - 1))] = data.draw(
                st.sampled_from(["x", "", "a.b", "a..b", "if", "__init__", "é", "x\n"]))
        elif what == "const":
            mf.consts[data.draw(st.integers(0, len(mf.consts) - 1))] = data.draw(
                st.one_of(_INTERESTING, st.floats(), st.text(max_size=3), st.none(), st.just(2**64 - 1)))
        elif what == "local_names":
            fn.local_names = fn.local_names[:-1] if fn.local_names and data.draw(st.booleans()) \
                else fn.local_names + ["t"]
        elif what == "struct_fields":
            s = mf.structs[0]
            s.fields = data.draw(st.lists(st.sampled_from(["x", "y", "class", "z"]), max_size=3))
    try:
        blob = encode(mf)
    except (OverflowError, msgspec.EncodeError):
        return  # not representable in the file format at all
    try:
        out = load_bytes(blob)
    except LoadError as e:
        assert not e.reason.startswith("internal verifier error"), e.reason
        assert "\n" not in e.reason
    else:
        reference_walk(out)
        disassemble(out)
    # the in-memory module (not re-encoded) too
    if _accepts(mf):
        reference_walk(mf)



# random well-formed programs: everything the generator builds must be accepted

def _gen_expr(draw, depth: int) -> list[Instr]:
    choice = draw(st.integers(0, 5 if depth < 2 else 1))
    if choice == 0:
        return [("CONST", draw(st.integers(0, 7)))]
    if choice == 1:
        return [("LOAD_LOCAL", draw(st.integers(0, 2)))]
    if choice == 2:
        return _gen_expr(draw, depth + 1) + _gen_expr(draw, depth + 1) + [("IADD",)]
    if choice == 3:
        op = draw(st.sampled_from(["AND", "OR"]))
        return _gen_expr(draw, depth + 1) + [(op, None)] + _gen_expr(draw, depth + 1) + [("END_EXPR",)]
    if choice == 4:
        return (_gen_expr(draw, depth + 1) + [("COND", None)] + _gen_expr(draw, depth + 1) + [("ELSE_EXPR", None)]
                + _gen_expr(draw, depth + 1) + [("END_EXPR",)])
    items = [_gen_expr(draw, depth + 1) for _ in range(draw(st.integers(0, 3)))]
    return [ins for it in items for ins in it] + [("BUILD_LIST", len(items))]


def _gen_block(draw, depth: int, in_loop: bool) -> list[Instr]:
    out: list[Instr] = []
    for _ in range(draw(st.integers(0, 3))):
        choice = draw(st.integers(0, 6 if depth < 3 else 1))
        if choice == 0:
            out += _gen_expr(draw, 0) + [("STORE_LOCAL", draw(st.integers(0, 2)))]
        elif choice == 1:
            out += _gen_expr(draw, 0) + [("POP",)]
        elif choice == 2:
            out += _gen_expr(draw, 0) + [("IF", None)] + _gen_block(draw, depth + 1, in_loop)
            if draw(st.booleans()):
                out += [("ELSE", None)] + _gen_block(draw, depth + 1, in_loop)
            out += [("END",)]
        elif choice == 3:
            out += [("LOOP", None)] + _gen_block(draw, depth + 1, True) + [("BREAK",), ("END",)]
        elif choice == 4:
            out += _gen_expr(draw, 0) + _gen_expr(draw, 0) + _gen_expr(draw, 0)
            out += [("FOR_RANGE", 2, None)] + _gen_block(draw, depth + 1, True) + [("END",)]
        elif choice == 5:
            bind = draw(st.booleans())
            out += [("TRY", None)] + _gen_block(draw, depth + 1, in_loop)
            out += [("CATCH", 1 if bind else 0, None, int(bind))] + _gen_block(draw, depth + 1, in_loop) + [("END",)]
        elif in_loop:
            out += [(draw(st.sampled_from(["BREAK", "CONTINUE"])),)]
        else:
            out += [("RETURN_NONE",)]
    return out


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_generated_programs_are_accepted(data):
    draw = data.draw
    body = _gen_block(draw, 0, False) + [("RETURN_NONE",)]
    mf = with_code(MAIN, body, nlocals=3, local_names=["p", "ch", "k"])
    verify(mf)
    reference_walk(mf)
    assert disassemble(mf)


# ---------------------------------------------------------------- issue 17: the last of verify.py's mutants

def test_struct_tables_at_their_edges():
    S = StructCode
    assert reason(module(structs="P")) == "module structs must be a list, not str"
    # either table not a list is refused (a module made in memory: the decoder would refuse it)
    assert reason(module(structs=[S("P", ("x",), ["int"])])) == "struct 'P': fields and field_types must be lists"
    assert reason(module(structs=[S("P", ["x"], ("int",))])) == "struct 'P': fields and field_types must be lists"
    names = [f"f{i}" for i in range(MAX_COUNT)]
    verify(module(structs=[S("P", names, ["int"] * MAX_COUNT)]))  # exactly the most fields
    names.append("last")
    assert reason(module(structs=[S("P", names, ["int"] * (MAX_COUNT + 1))])) == \
        f"struct 'P': too many fields ({MAX_COUNT + 1}; at most {MAX_COUNT})"
    bad = "struct 'P': field defaults do not match its 2 fields"
    assert reason(module(structs=[S("P", ["x", "y"], ["int", "int"], has_default=[True], defaults=[1, None])])) == bad
    assert reason(module(structs=[S("P", ["x", "y"], ["int", "int"], has_default=[True, False], defaults=[1])])) == bad
    verify(module(structs=[S("P", ["x", "y"], ["int", "int"], has_default=[True, False], defaults=[1, None])]))


def test_a_type_text_at_the_longest_allowed():
    longest = "T" * MAX_TYPE_TEXT  # a struct name, as long as a type text may be
    verify(module(structs=[StructCode("P", ["x"], [longest])]))
    assert reason(module(structs=[StructCode("P", ["x"], [longest + "T"])])) == \
        f"struct 'P' field 'x': type text too long ({MAX_TYPE_TEXT + 1} characters)"


def test_global_tables_at_their_edges():
    G = GlobalCode
    assert reason(module(globals={"g": 1})) == "module globals must be a list, not dict"
    assert reason(module(globals=[G("g", "int", True), "h"])) == "global 1 is not a GlobalCode"
    assert reason(module(globals=[G(7, "int", True)])) == "global 0: name <int> is not an identifier"
    assert reason(module(globals=[G("g", "int", 1)])) == "global 'g': mutable and exported must be bools"
    assert reason(module(globals=[G("g", "int", True, exported=None)])) == \
        "global 'g': mutable and exported must be bools"
    assert reason(module(structs=[StructCode("P", [], [], exported=1)])) == "struct 'P': exported must be a bool"


def test_a_name_is_quoted_whole_up_to_60_characters():
    G = GlobalCode
    sixty, more = "a-" * 30, "a-" * 30 + "b"
    assert reason(module(globals=[G(sixty, "int", True)])) == f"global 0: name {sixty!r} is not an identifier"
    assert reason(module(globals=[G(more, "int", True)])) == f"global 0: name {sixty!r}... is not an identifier"


def test_a_pool_may_hold_exactly_its_most_entries():
    verify(module(consts=[None] * 100_000))
    assert reason(module(consts=[None] * 100_001)) == "too many constants (100001; at most 100000)"


def test_every_refusal_of_verify_names_the_file(monkeypatch):
    bad = module(globals=[GlobalCode("a-b", "int", True)])
    with pytest.raises(LoadError) as e:
        verify(bad, "lib/bad.nbc")
    assert (e.value.reason, e.value.path) == ("global 0: name 'a-b' is not an identifier", "lib/bad.nbc")

    for raised, reason in [(LoadError("a check that raised LoadError itself"), "a check that raised LoadError itself"),
                           (RuntimeError("a verifier bug\non two lines"),
                            "internal verifier error: RuntimeError: a verifier bug on two lines")]:
        def check(self, consts, raised=raised):
            raise raised

        monkeypatch.setattr(V._Verifier, "_consts", check)
        with pytest.raises(LoadError) as e:
            verify(module(), "lib/x.nbc")
        assert (e.value.reason, e.value.path) == (reason, "lib/x.nbc")


def test_the_module_s_own_fields_are_refused_by_name():
    with pytest.raises(LoadError) as e:
        verify(42)  # type: ignore[arg-type]
    assert e.value.reason == "not a ModuleFile but int"
    mf = module()
    mf.version = 5  # type: ignore[assignment]
    assert reason(mf) == "module version <int> is not MAJOR.MINOR.PATCH"
    for field in ("source_file", "source_hash", "compiler"):
        mf = module()
        setattr(mf, field, None)
        assert reason(mf) == f"module {field} must be a string"
    mf = module()
    mf.ir = "not bytes"  # type: ignore[assignment]
    assert reason(mf) == "module ir must be bytes"
    mf = sample()
    mf.names.append(5)  # type: ignore[arg-type]
    assert reason(mf) == f"name {len(mf.names) - 1} is not a string"


def test_a_module_whose_typed_ir_is_refused_names_the_file():
    mf = module()
    mf.ir = b"not the typed IR"
    with pytest.raises(LoadError) as e:
        verify(mf, "lib/ir.nbc")
    assert e.value.path == "lib/ir.nbc" and e.value.reason.startswith("malformed typed IR: ")


def test_an_import_without_its_hash_is_refused():
    # msgspec lets a host delete a field; the image and the cache read every import's hash
    mf = sample()
    mf.imports = [ImportCode("std.math", "1.0.0", "ab" * 16)]
    verify(mf)
    del mf.imports[0].hash
    assert reason(mf) == "import 0: version and hash must be strings"
    mf.imports = [ImportCode("std.math", "1.0.0", 5)]  # type: ignore[arg-type]
    assert reason(mf) == "import 0: version and hash must be strings"
