"""The `.nbc` module file end to end: a real compiled program, damaged in every way.

A program using structs, methods, closures, try/catch and loops is compiled with
`compile_source` and encoded.  Hypothesis then damages it -- raw bytes (flip, insert, delete,
truncate), the payload re-signed so the damage gets past the checksum, and single words of
bytecode or constants -- and checks the one promise of the loader: `load_bytes` refuses the
file with LoadError, or the module it returns loads and runs with no Python exception other
than NoodleRuntimeError (a wrong but verified module may fail at run time, never crash).

The real commands are checked too: `noodle run x.nbc` on an empty, foreign, truncated,
corrupted or wrong-version file exits 1 with one `error: ...` line; a module compiled with
`noodlec -o` runs like its source and disassembles; `__noodlecache__/` is reused and
invalidated when a source changes.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import struct
import tempfile
import threading
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import TRACEBACK, compile_ok, noodle, noodlec, output_of, write
from noodle.errors import LoadError
from noodle.format import module_file as mfile
from noodle.runtime.errors import NoodleRuntimeError
from noodle.vm.machine import Machine
from noodle.format.module_file import HEADER_SIZE, decode, encode
from noodle.vm.verify import load_bytes

PROGRAM = """// structs with methods and defaults, closures updating captured variables, try/catch of
// thrown and run-time errors, loops of each kind, maps, tuples, interpolation
import math

struct Account {
    owner: str
    balance: int = 0
    history: List<int> = []

    fn deposit(self, amount: int) {
        if amount <= 0 {
            throw Error("bad amount {amount}")
        }
        self.balance += amount
        self.history.append(amount)
    }
}

fn make_counter(step: int) -> fn() -> int {
    var n = 0
    return () => {
        n += step
        return n
    }
}

fn fib(n: int) -> int {
    if n < 2 {
        return n
    }
    return fib(n - 1) + fib(n - 2)
}

fn main() {
    let acct = Account("ada")
    for amount in [10, 20, -5, 30] {
        try {
            acct.deposit(amount)
        } catch e {
            print("refused:", e.message)
        }
    }
    print(acct)
    let next = make_counter(3)
    next()
    next()
    print("counter", next())
    var total = 0
    var i = 0
    while true {
        i += 1
        if i % 2 == 0 {
            continue
        }
        if i > 9 {
            break
        }
        total += i
    }
    print("odd sum", total)
    let squares: Map<int, int> = {}
    for k in 1..=5 {
        squares[k] = k * k
    }
    print(squares, 3 in squares)
    let (q, r) = divmod(17, 5)
    print("q={q} r={r}", (q, r), fib(15))
    let words = "the quick brown fox".split(" ")
    print(sorted(words, (w: str) => len(w)), map(words, (w: str) => w.upper()))
    try {
        print([1, 2, 3][5])
    } catch e {
        print(e.kind, e.message)
    }
    print(math.sqrt(2.0), 7 / 2, -7 // 2, 2 ** 10)
}
"""

EXPECTED = """refused: bad amount -5
Account(owner: "ada", balance: 60, history: [10, 20, 30])
counter 9
odd sum 25
{1: 1, 2: 4, 3: 9, 4: 16, 5: 25} true
q=3 r=2 (3, 2) 610
["the", "fox", "quick", "brown"] ["THE", "QUICK", "BROWN", "FOX"]
IndexError index out of range
1.4142135623730951 3.5 -4 1024
"""

_, MODULE = compile_ok(PROGRAM, "prog")
DATA = encode(MODULE)
#: the module as plain msgpack data (dicts and lists), for structural damage
PLAIN = msgspec.msgpack.decode(DATA[HEADER_SIZE:])


def test_program_runs_in_process() -> None:
    assert output_of(PROGRAM, "prog") == EXPECTED


def test_encode_decode_round_trip() -> None:
    again = load_bytes(DATA, "prog.nbc")
    assert again == MODULE
    assert encode(again) == DATA
    assert decode(DATA) == MODULE


# ---------------------------------------------------------------- running damaged modules safely

class _Timeout(BaseException):
    """Raised by the alarm: a BaseException, so Noodle's `catch` (Exception) cannot swallow it."""


_SANDBOX = tempfile.mkdtemp(prefix="noodle-nbc-fuzz-")


def _on_alarm(signum, frame):  # noqa: ANN001
    raise _Timeout()


def run_damaged(data: bytes) -> str:
    """What happened to damaged bytes: 'refused', 'ran', 'runtime-error' or 'timeout'.

    Anything else (a Python exception escaping the VM, LoadError after verification) fails.
    """
    try:
        module = load_bytes(data, "damaged.nbc")
    except LoadError as e:
        assert "\n" not in str(e), f"LoadError must be one line: {e}"
        return "refused"
    # a damaged module may loop forever or touch files: run it in a scratch directory, with an alarm
    in_main = threading.current_thread() is threading.main_thread()
    old_cwd = os.getcwd()
    os.chdir(_SANDBOX)
    if in_main:
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 2.0)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            machine = Machine()
            lm = machine.load(module)
            machine.run_main(lm)
        return "ran"
    except NoodleRuntimeError as e:
        assert e.kind and isinstance(e.message, str)
        e.render()
        return "runtime-error"
    except _Timeout:
        return "timeout"
    finally:
        if in_main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        os.chdir(old_cwd)


def resign(payload: bytes) -> bytes:
    """A well-formed header (length, digest) for any payload."""
    digest = hashlib.blake2b(payload, digest_size=32).digest()
    return struct.pack("<8sHHI32s", mfile.MAGIC, mfile.FORMAT_VERSION, 0, len(payload), digest) + payload


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def byte_damage(draw, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        if not buf:
            break
        i = draw(st.integers(0, len(buf) - 1))
        if kind == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            buf[i] = draw(st.integers(0, 255))
        elif kind == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del buf[i:i + draw(st.integers(1, 8))]
        else:
            del buf[i:]
    return bytes(buf)


@FUZZ
@given(byte_damage(DATA))
def test_damaged_bytes(data: bytes) -> None:
    """Damage anywhere in the file: the header checks refuse it (or it was a no-op)."""
    outcome = run_damaged(data)
    if data != DATA:
        assert outcome == "refused"


@FUZZ
@given(byte_damage(DATA[HEADER_SIZE:]))
def test_damaged_payload_with_valid_checksum(payload: bytes) -> None:
    """Damage behind a valid checksum reaches the msgpack decoder and the verifier."""
    run_damaged(resign(payload))


def _mutate(plain: dict, draw) -> dict:
    """Damaged bytecode without its typed IR (which the loader would compare the bytecode with and
    refuse at once: tests/test_trust_ir.py), so the damage reaches the bytecode verifier and runs."""
    m = msgspec.msgpack.decode(msgspec.msgpack.encode(plain))  # a deep copy
    m["ir"] = b""
    for _ in range(draw(st.integers(1, 3))):
        what = draw(st.sampled_from(["code", "code", "code", "const", "nlocals", "lines"]))
        f = m["functions"][draw(st.integers(0, len(m["functions"]) - 1))]
        if what == "code" and f["code"]:
            i = draw(st.integers(0, len(f["code"]) - 1))
            f["code"][i] = draw(st.one_of(st.integers(-2, 90), st.just(f["code"][i] + 1),
                                          st.just(f["code"][i] - 1), st.integers(0, 2**40)))
        elif what == "const" and m["consts"]:
            i = draw(st.integers(0, len(m["consts"]) - 1))
            m["consts"][i] = draw(st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=5),
                                            st.none(), st.booleans()))
        elif what == "nlocals":
            f["nlocals"] = max(0, f["nlocals"] + draw(st.sampled_from([-1, 1])))
        elif f["lines"]:
            i = draw(st.integers(0, len(f["lines"]) - 1))
            f["lines"][i] = draw(st.integers(-5, 10**6))
    return m


@FUZZ
@given(st.data())
def test_damaged_bytecode_and_constants(data) -> None:
    """One word of code or one constant changed: still only LoadError or NoodleRuntimeError."""
    m = _mutate(PLAIN, data.draw)
    run_damaged(resign(msgspec.msgpack.encode(m)))


def test_bare_int_constant_before_a_field_translates() -> None:
    """A verified module reading a field of an int constant must fail at run time, not at translation.

    (`5.f_x` is not valid Python; the translator parenthesises such constants.)
    """
    _, mf = compile_ok("struct P { x: int }\nfn main() {\n    let p = P(5)\n    print(p.x)\n}\n", "p")
    m = msgspec.msgpack.decode(encode(mf)[HEADER_SIZE:])
    m["ir"] = b""  # else the loader refuses bytecode its IR does not emit
    main = next(f for f in m["functions"] if f["name"] == "main")
    ops = [main["code"][i] for i in range(0, len(main["code"]), 4)]
    from noodle.format.opcodes import BY_NAME
    # replace `LOAD_LOCAL p` before GET_FIELD with `CONST <int 5>`
    gi = ops.index(BY_NAME["GET_FIELD"])
    assert ops[gi - 1] == BY_NAME["LOAD_LOCAL"]
    five = m["consts"].index(5)
    main["code"][(gi - 1) * 4:(gi - 1) * 4 + 4] = [BY_NAME["CONST"], five, 0, 0]
    assert run_damaged(resign(msgspec.msgpack.encode(m))) == "runtime-error"


# ---------------------------------------------------------------- the real commands

def _one_line_error(p, name: str) -> None:
    assert p.returncode == 1, p.context()
    assert TRACEBACK not in p.stderr, p.context()
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.context()
    assert name in lines[0], p.context()
    assert p.stdout == "", p.context()


BAD_FILES = {
    "empty": b"",
    "foreign": b"#!/bin/sh\necho this is not a module\n",
    "png": b"\x89PNG\r\n\x1a\n" + bytes(64),
    "magic-only": mfile.MAGIC,
    "truncated-header": DATA[:HEADER_SIZE - 5],
    "truncated-payload": DATA[: len(DATA) // 2],
    "corrupted": DATA[:-10] + bytes([DATA[-10] ^ 0xFF]) + DATA[-9:],
    "wrong-version": DATA[:8] + struct.pack("<H", mfile.FORMAT_VERSION + 1) + DATA[10:],
    "flags": DATA[:10] + struct.pack("<H", 4) + DATA[12:],
    "trailing-garbage": DATA + b"\x00junk",
    "bad-payload": resign(b"\x93\x01\x02\x03"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_noodle_run_refuses_bad_module_files(kind: str, tmp_path: Path) -> None:
    (tmp_path / f"{kind}.nbc").write_bytes(BAD_FILES[kind])
    _one_line_error(noodle(["run", f"{kind}.nbc"], tmp_path), f"{kind}.nbc")


def test_each_damage_is_refused_with_its_own_reason() -> None:
    n = len(DATA) - HEADER_SIZE
    reasons = {
        "empty": "not a Noodle module (bad magic number)",
        "foreign": "not a Noodle module (bad magic number)",
        "png": "not a Noodle module (bad magic number)",
        "magic-only": "truncated module file (incomplete header)",
        "truncated-header": "truncated module file (incomplete header)",
        "truncated-payload": f"truncated module file ({len(DATA) // 2 - HEADER_SIZE} of {n} payload bytes)",
        "corrupted": "corrupted module file (checksum mismatch)",
        "wrong-version": f"module format version {mfile.FORMAT_VERSION + 1} is not supported "
                         f"(this VM reads version {mfile.FORMAT_VERSION})",
        "flags": "unknown module flags 0x4",
        "trailing-garbage": "trailing garbage after the module payload (5 bytes)",
        "bad-payload": "malformed module payload: Expected `object`, got `array`",
    }
    cases = dict(BAD_FILES, **{"header-only": DATA[:HEADER_SIZE], "magic-and-one": mfile.MAGIC + b"\x01"})
    reasons.update({"header-only": f"truncated module file (0 of {n} payload bytes)",
                    "magic-and-one": "truncated module file (incomplete header)"})
    for kind, data in cases.items():
        with pytest.raises(LoadError) as e:
            decode(data, "m.nbc")
        assert (e.value.reason, e.value.path, str(e.value)) == (reasons[kind], "m.nbc", f"m.nbc: {reasons[kind]}"), kind
    with pytest.raises(LoadError) as e:
        decode(b"")
    assert (e.value.path, str(e.value)) == (None, "not a Noodle module (bad magic number)")
    assert decode(DATA, "m.nbc") == MODULE


def test_noodle_run_wrong_version_says_so(tmp_path: Path) -> None:
    (tmp_path / "v.nbc").write_bytes(BAD_FILES["wrong-version"])
    p = noodle(["run", "v.nbc"], tmp_path)
    _one_line_error(p, "v.nbc")
    assert "version" in p.stderr


def test_noodle_run_missing_module_file(tmp_path: Path) -> None:
    p = noodle(["run", "absent.nbc"], tmp_path)  # a missing program file has its own status
    assert (p.returncode, p.stdout, p.stderr) == (66, "", "noodle: cannot open absent.nbc: no such file\n"), p.context()


def test_noodle_disasm_refuses_bad_file(tmp_path: Path) -> None:
    (tmp_path / "t.nbc").write_bytes(BAD_FILES["truncated-payload"])
    _one_line_error(noodle(["disasm", "t.nbc"], tmp_path), "t.nbc")


def test_noodlec_output_runs_like_the_source(tmp_path: Path) -> None:
    write(tmp_path, "prog.nd", PROGRAM)
    from_source = noodle(["run", "prog.nd"], tmp_path)
    assert from_source.returncode == 0 and from_source.stdout == EXPECTED, from_source.context()
    c = noodlec(["prog.nd", "-o", "out.nbc"], tmp_path)
    assert c.returncode == 0 and TRACEBACK not in c.stderr, c.context()
    assert load_bytes((tmp_path / "out.nbc").read_bytes()).name == "prog"
    from_module = noodle(["run", "out.nbc"], tmp_path)
    assert (from_module.returncode, from_module.stdout, from_module.stderr) == (0, EXPECTED, ""), \
        from_module.context()
    d = noodle(["disasm", "out.nbc"], tmp_path)
    assert d.returncode == 0 and TRACEBACK not in d.stderr, d.context()
    for name in ("fib", "make_counter", "Account.deposit", "main"):
        assert name in d.stdout, f"{name} missing from the disassembly\n{d.stdout[:2000]}"


def test_noodlec_output_with_an_import(tmp_path: Path) -> None:
    write(tmp_path, "lib.nd", "fn twice(x: int) -> int { return 2 * x }\n")
    write(tmp_path, "main.nd", "import lib\nprint(lib.twice(21))\n")
    assert noodlec(["main.nd", "-o", "main.nbc"], tmp_path).returncode == 0
    # the imported module's .nbc is looked up beside the main one
    _one_line_error(noodle(["run", "main.nbc"], tmp_path), "lib")
    assert noodlec(["lib.nd"], tmp_path).returncode == 0
    p = noodle(["run", "main.nbc"], tmp_path)
    assert (p.returncode, p.stdout) == (0, "42\n"), p.context()


def test_runtime_error_stack_from_a_module_file(tmp_path: Path) -> None:
    write(tmp_path, "boom.nd", "fn f(xs: List<int>) -> int {\n    return xs[3]\n}\nfn main() {\n    print(f([1]))\n}\n")
    assert noodlec(["boom.nd", "-o", "boom.nbc"], tmp_path).returncode == 0
    p = noodle(["run", "boom.nbc"], tmp_path)
    assert p.returncode == 1 and TRACEBACK not in p.stderr, p.context()
    lines = p.stderr.splitlines()
    assert lines[0] == "IndexError: index out of range"
    assert "at main (boom.nd:5:" in lines[1] and "at f (boom.nd:2:" in lines[2], p.context()


# ---------------------------------------------------------------- __noodlecache__

OLD = 1_000_000_000  # an mtime far in the past, in seconds


def _age(path: Path) -> None:
    os.utime(path, (OLD, OLD))


def test_cache_is_reused_and_invalidated(tmp_path: Path) -> None:
    src = write(tmp_path, "app.nd", 'print("one")\n')
    p = noodle(["run", "app.nd"], tmp_path)
    assert (p.returncode, p.stdout) == (0, "one\n"), p.context()
    cached = tmp_path / "__noodlecache__" / "app.nbc"
    assert cached.is_file()
    assert load_bytes(cached.read_bytes()).name == "app"
    _age(cached)
    p = noodle(["run", "app.nd"], tmp_path)
    assert (p.returncode, p.stdout) == (0, "one\n"), p.context()
    assert cached.stat().st_mtime == OLD, "a valid cache entry was rewritten"
    src.write_text('print("two")\n', encoding="utf-8")
    p = noodle(["run", "app.nd"], tmp_path)
    assert (p.returncode, p.stdout) == (0, "two\n"), p.context()
    assert cached.stat().st_mtime != OLD, "the cache entry of a changed source was not rebuilt"


def test_cache_of_an_import_is_invalidated(tmp_path: Path) -> None:
    lib = write(tmp_path, "lib.nd", "fn value() -> int { return 1 }\n")
    write(tmp_path, "main.nd", "import lib\nprint(lib.value())\n")
    assert noodle(["run", "main.nd"], tmp_path).stdout == "1\n"
    cache = tmp_path / "__noodlecache__"
    assert (cache / "lib.nbc").is_file() and (cache / "main.nbc").is_file()
    for f in cache.iterdir():
        _age(f)
    assert noodle(["run", "main.nd"], tmp_path).stdout == "1\n"
    assert all(f.stat().st_mtime == OLD for f in cache.iterdir()), "valid cache entries were rewritten"
    lib.write_text("fn value() -> int { return 2 }\n", encoding="utf-8")
    p = noodle(["run", "main.nd"], tmp_path)
    assert (p.returncode, p.stdout) == (0, "2\n"), p.context()
    # the interface of lib did not change, so main may stay cached; lib itself must be rebuilt
    assert (cache / "lib.nbc").stat().st_mtime != OLD


def test_cache_of_an_import_whose_interface_changed(tmp_path: Path) -> None:
    lib = write(tmp_path, "lib.nd", "fn value() -> int { return 1 }\n")
    write(tmp_path, "main.nd", "import lib\nprint(lib.value())\n")
    assert noodle(["run", "main.nd"], tmp_path).stdout == "1\n"
    lib.write_text('fn value() -> str { return "now a string" }\n', encoding="utf-8")
    p = noodle(["run", "main.nd"], tmp_path)
    assert (p.returncode, p.stdout) == (0, "now a string\n"), p.context()
    lib.write_text("fn other() -> int { return 3 }\n", encoding="utf-8")
    p = noodle(["run", "main.nd"], tmp_path)
    assert p.returncode == 2 and "error[E0401]" in p.stderr and TRACEBACK not in p.stderr, p.context()


@pytest.mark.parametrize("damage", [b"", b"garbage", DATA[:50]], ids=["empty", "garbage", "truncated"])
def test_damaged_cache_entry_is_rebuilt(damage: bytes, tmp_path: Path) -> None:
    write(tmp_path, "app.nd", "print(6 * 7)\n")
    cache = tmp_path / "__noodlecache__"
    cache.mkdir()
    (cache / "app.nbc").write_bytes(damage)
    p = noodle(["run", "app.nd"], tmp_path)
    assert (p.returncode, p.stdout, p.stderr) == (0, "42\n", ""), p.context()
    assert load_bytes((cache / "app.nbc").read_bytes()).name == "app"


def test_no_cache_flag(tmp_path: Path) -> None:
    write(tmp_path, "app.nd", "print(1)\n")
    p = noodle(["run", "--no-cache", "app.nd"], tmp_path)
    assert (p.returncode, p.stdout) == (0, "1\n"), p.context()
    assert not (tmp_path / "__noodlecache__").exists()


def test_stack_of_a_cached_import_names_its_file(tmp_path: Path) -> None:
    write(tmp_path, "lib/calc.nd", "fn half(x: int) -> int {\n    return 10 // x\n}\n")
    write(tmp_path, "main.nd", "import lib.calc as calc\nfn main() {\n    print(calc.half(0))\n}\n")
    for _ in range(2):  # compiled, then from the cache
        p = noodle(["run", "main.nd"], tmp_path)
        assert p.returncode == 1 and TRACEBACK not in p.stderr, p.context()
        assert p.stderr.splitlines()[1:] == ["  at main (main.nd:3:11)", "  at half (lib/calc.nd:2:5)"], p.context()


def test_stack_paths_of_cached_modules_follow_the_current_directory(tmp_path: Path) -> None:
    write(tmp_path, "app/lib/calc.nd", "fn half(x: int) -> int {\n    return 10 // x\n}\n")
    write(tmp_path, "app/main.nd", "import lib.calc as calc\nfn main() {\n    print(calc.half(0))\n}\n")
    p = noodle(["run", "app/main.nd"], tmp_path)
    assert p.stderr.splitlines()[1:] == ["  at main (app/main.nd:3:11)", "  at half (app/lib/calc.nd:2:5)"]
    p = noodle(["run", "main.nd"], tmp_path / "app")
    assert p.stderr.splitlines()[1:] == ["  at main (main.nd:3:11)", "  at half (lib/calc.nd:2:5)"], p.context()
