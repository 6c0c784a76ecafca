"""Fuzz campaigns against the toolchain: `python -m noodle.tools.fuzz CAMPAIGN [--count N] [--seed S]`.

Three campaigns, each seeded (a run is reproducible from its seed) and each counting outcomes;
any *finding* (an outcome that breaks a promise) is printed with the seed of its input:

- `source`: the example programs mutated token by token (slices deleted, repeated, swapped; tokens
  and odd characters inserted; numbers made huge; text truncated) and compiled.  Promise: the
  compiler gives diagnostics or a module, never an exception or an internal error.
- `module`: compiled modules damaged as an attacker would, the digest recomputed each time (bytes
  flipped; bytecode words, constants and locals edited with or without the typed IR; typed IR
  edited structurally; another module's IR swapped in) and loaded.  Promise: refused with one
  line, or it runs — under a time limit, with no capability — giving exactly the VM's output in
  native code.
- `differential`: generated numeric functions (int and float arithmetic, loops, branches, calls,
  Arrays) run natively and in the VM (`--mode safe`).  Promise: the same output, bit for bit, and
  the same error where there is one.

`make fuzz` runs long campaigns; `tests/test_fuzz.py` a quick run of each in `make test`.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


@dataclass
class Report:
    """What one campaign tried and what came of it."""

    campaign: str
    seed: int
    tried: int = 0
    outcomes: Counter = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "seed": self.seed, "tried": self.tried,
                "outcomes": dict(self.outcomes), "findings": self.findings, "seconds": round(self.seconds, 1)}


def _seeds() -> list[tuple[str, str]]:
    """The example programs that compile (the corpus every campaign starts from)."""
    out = []
    for path in sorted(EXAMPLES.glob("*.nd")):
        if (path.with_suffix(".code")).exists():
            continue  # an example of a compile error
        out.append((path.stem, path.read_text(encoding="utf-8")))
    return out


# ---------------------------------------------------------------- source

_TOKEN = re.compile(r"\s+|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|\d[\d_]*(?:\.\d+)?|\w+|.", re.S)
_INSERTS = ["{", "}", "(", ")", "[", "]", ",", ":", "->", "=", "==", "+", "//", "/*", "*/", '"', "'", "\\", "\n",
            "fn", "let", "var", "if", "else", "while", "for", "in", "return", "struct", "import", "try", "catch",
            "throw", "module", "version", "test", "none", "true", "Array<float>", "List<", "Map<str, int>", "..",
            "..=", "@", "$", "\u00e9", "\ud800", "\u200b", "\x00", "9" * 5000, "0x" + "f" * 40, "1e999", "-",
            "{x}", "\"{", "}\""]


def _mutate_source(text: str, rnd: random.Random) -> str:
    tokens = _TOKEN.findall(text)
    for _ in range(rnd.randint(1, 6)):
        if not tokens:
            break
        i = rnd.randrange(len(tokens))
        j = min(len(tokens), i + rnd.randint(1, 12))
        kind = rnd.randrange(7)
        if kind == 0:
            del tokens[i:j]
        elif kind == 1:
            tokens[i:i] = tokens[i:j]
        elif kind == 2:
            k = rnd.randrange(len(tokens))
            tokens[i], tokens[k] = tokens[k], tokens[i]
        elif kind == 3:
            tokens.insert(i, rnd.choice(_INSERTS))
        elif kind == 4 and tokens[i][:1].isdigit():
            tokens[i] = rnd.choice(["9" * rnd.randint(19, 6000), "0", "-0", "1" + "0" * 30, "0.0" + "0" * 400 + "1"])
        elif kind == 5:
            tokens[i] = rnd.choice([t for t in tokens if t.strip()] or ["x"])
        else:
            del tokens[rnd.randrange(len(tokens)):]
    return "".join(tokens)


def source_campaign(count: int, seed: int, deadline: float | None = None) -> Report:
    from noodle.build.driver import compile_source
    from noodle.errors import CompileError

    report = Report("source", seed)
    corpus = _seeds()
    rnd = random.Random(seed)
    for n in range(count):
        if deadline is not None and time.monotonic() > deadline:
            break
        name, text = rnd.choice(corpus)
        case_seed = rnd.randrange(1 << 30)
        mutated = _mutate_source(text, random.Random(case_seed))
        report.tried += 1
        try:
            compile_source(mutated, f"{name}.nd", name)
            report.outcomes["compiled"] += 1
        except CompileError as e:
            internal = [d for d in e.diagnostics if "internal" in d.message]
            if internal:
                report.outcomes["internal error"] += 1
                report.findings.append(f"source {name} seed {case_seed}: {internal[0].message[:120]}")
            else:
                report.outcomes["diagnostics"] += 1
                e.render()  # rendering must not fail either
        except RecursionError:
            report.outcomes["crash"] += 1
            report.findings.append(f"source {name} seed {case_seed}: RecursionError")
        except Exception as e:  # noqa: BLE001 - a finding: the promise is diagnostics only
            report.outcomes["crash"] += 1
            report.findings.append(f"source {name} seed {case_seed}: {type(e).__name__}: {str(e)[:120]}")
    return report


# ---------------------------------------------------------------- modules

def _run_module(module: Any, backend: str) -> str:
    """Output of a loaded module's main, with no capability and a time limit; or how it ended."""
    from noodle.errors import LimitExceeded
    from noodle.runtime.errors import NoodleRuntimeError
    from noodle.vm.limits import Capabilities, Limits
    from noodle.vm.machine import Machine

    out = io.StringIO()
    machine = Machine(capabilities=Capabilities(), limits=Limits(max_seconds=1.0, max_memory_mb=512),
                      backend=backend, mode="safe")
    with contextlib.redirect_stdout(out):
        try:
            lm = machine.load(module, run_init=False)
            machine.call(lm, lm.functions["__init__"])
            machine.run_main(lm)
            end = "ok"
        except NoodleRuntimeError as e:
            end = f"error {e.kind}: {e.message}"
        except LimitExceeded as e:
            return f"limit {e.limit}"
    return out.getvalue() + end


def _damage(data: bytes, plain: dict, other_ir: bytes, rnd: random.Random) -> bytes:
    import msgspec

    from noodle.format.hashing import digest
    from noodle.format.module_file import FORMAT_VERSION, HEADER_SIZE, MAGIC
    import struct

    def resign(payload: bytes) -> bytes:
        return struct.pack("<8sHHI32s", MAGIC, FORMAT_VERSION, 0, len(payload), digest(payload)) + payload

    kind = rnd.randrange(6)
    if kind == 0:  # raw bytes, digest recomputed
        buf = bytearray(data[HEADER_SIZE:])
        for _ in range(rnd.randint(1, 4)):
            i = rnd.randrange(len(buf))
            buf[i] = rnd.randrange(256) if rnd.random() < 0.5 else buf[i] ^ (1 << rnd.randrange(8))
        return resign(bytes(buf))
    m = msgspec.msgpack.decode(msgspec.msgpack.encode(plain))
    if kind == 5:
        m["ir"] = other_ir
        return resign(msgspec.msgpack.encode(m))
    if kind in (1, 2):  # bytecode words or constants, with the IR kept (1) or dropped (2)
        if kind == 2:
            m["ir"] = b""
        f = rnd.choice([f for f in m["functions"] if f["code"]])
        what = rnd.randrange(4)
        if what == 0:
            i = rnd.randrange(len(f["code"]))
            f["code"][i] = rnd.choice([f["code"][i] + 1, f["code"][i] - 1, rnd.randrange(100), 1 << 40])
        elif what == 1 and m["consts"]:
            i = rnd.randrange(len(m["consts"]))
            m["consts"][i] = rnd.choice([0, -1, 2**63 - 1, 1.5, float("nan"), "", "x" * 100, None, True])
        elif what == 2:
            f["nlocals"] = max(0, f["nlocals"] + rnd.choice([-1, 1]))
        else:
            f["lines"][rnd.randrange(len(f["lines"]))] = rnd.randrange(-5, 10**6)
        return resign(msgspec.msgpack.encode(m))
    ir = msgspec.msgpack.decode(m["ir"]) if m["ir"] else {}
    nodes: list = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            nodes.append(x)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(ir)
    for _ in range(rnd.randint(1, 3)):
        if len(nodes) < 2:
            break
        node = rnd.choice(nodes[1:])
        key = rnd.choice(sorted(node))
        v = node[key]
        if key in ("ty", "ret"):
            node[key] = rnd.choice(["int", "float", "bool", "str", "none", "Array<float>", "Array<bool>", "f32"])
        elif key == "local_types" and v:
            v[rnd.randrange(len(v))] = rnd.choice(["int", "float", "bool", "Array<int>", "Array<float, 2>"])
        elif key == "op":
            node[key] = rnd.choice(["int.add", "int.mul", "float.add", "cmp.lt", "not", "int.neg", "and"])
        elif isinstance(v, bool):
            node[key] = not v
        elif isinstance(v, int):
            node[key] = v + rnd.choice([-1, 1, 2])
        elif isinstance(v, list) and v:
            i = rnd.randrange(len(v))
            if rnd.random() < 0.5:
                del v[i]
            else:
                v.insert(i, v[i])
        elif isinstance(v, str) and key in ("func", "name", "intent"):
            node[key] = rnd.choice(["main", "array.get", "math.sqrt", "matmul", "jacobi", ""])
        elif not isinstance(v, (dict, list)):
            node[key] = rnd.choice([0, 1, -1, 0.5, None, True, "x"])
    m["ir"] = msgspec.msgpack.encode(ir)
    return resign(msgspec.msgpack.encode(m))


def module_campaign(count: int, seed: int, deadline: float | None = None) -> Report:
    import msgspec

    from noodle.build.driver import compile_source
    from noodle.errors import CompileError, LoadError
    from noodle.format.module_file import HEADER_SIZE, encode
    from noodle.vm.verify import load_bytes

    report = Report("module", seed)
    compiled = []
    for name, text in _seeds():
        try:
            data = encode(compile_source(text, f"{name}.nd", name)[1])
        except CompileError:
            continue
        plain = msgspec.msgpack.decode(data[HEADER_SIZE:])
        if "io." in text or "input(" in text or "import time" in text:
            continue  # programs that read files or stdin, or print what a clock said, differ run to run
        module = load_bytes(data, f"{name}.nbc")
        if _run_module(module, "vm") != _run_module(module, "vm"):
            continue  # not deterministic as it is: its damaged versions could not be compared
        compiled.append((name, data, plain))
    rnd = random.Random(seed)
    for n in range(count):
        if deadline is not None and time.monotonic() > deadline:
            break
        name, data, plain = rnd.choice(compiled)
        other = rnd.choice(compiled)[2]["ir"]
        case_seed = rnd.randrange(1 << 30)
        damaged = _damage(data, plain, other, random.Random(case_seed))
        report.tried += 1
        try:
            module = load_bytes(damaged, f"{name}.nbc")
        except LoadError as e:
            if "\n" in str(e):
                report.findings.append(f"module {name} seed {case_seed}: LoadError of several lines")
            report.outcomes["refused"] += 1
            continue
        except Exception as e:  # noqa: BLE001 - a finding
            report.outcomes["crash"] += 1
            report.findings.append(f"module {name} seed {case_seed}: {type(e).__name__} from the loader: {e}")
            continue
        try:
            vm_out = _run_module(module, "vm")
            native_out = _run_module(module, "auto")
        except Exception as e:  # noqa: BLE001 - a finding: only Noodle errors may leave a run
            report.outcomes["crash"] += 1
            report.findings.append(f"module {name} seed {case_seed}: {type(e).__name__} escaped: {str(e)[:100]}")
            continue
        if vm_out.startswith("limit") or native_out.startswith("limit"):
            report.outcomes["stopped by a limit"] += 1
        elif vm_out == native_out:
            report.outcomes["ran, native = VM"] += 1
        else:
            report.outcomes["different output"] += 1
            report.findings.append(f"module {name} seed {case_seed}: native output differs from the VM's")
    return report


# ---------------------------------------------------------------- differential

def _int_expr(rnd: random.Random, depth: int = 0) -> str:
    if depth > 2 or rnd.random() < 0.3:
        return rnd.choice(["i", "a", "b", "acc", str(rnd.randint(-9, 9)), str(rnd.choice([2**31, 2**62, -2**63 + 1]))])
    op = rnd.choice(["+", "-", "*", "//", "%", "&", "|", "^"])
    return f"({_int_expr(rnd, depth + 1)} {op} {_int_expr(rnd, depth + 1)})"


def _float_expr(rnd: random.Random, depth: int = 0) -> str:
    if depth > 2 or rnd.random() < 0.3:
        return rnd.choice(["x", "y", "s", "float(i)", "xs[i % n]", str(rnd.choice([0.5, -1.25, 1e300, 3.0, 0.0]))])
    pick = rnd.randrange(5)
    if pick == 0:
        return f"math.sqrt(abs({_float_expr(rnd, depth + 1)}))"
    if pick == 1:
        return f"min({_float_expr(rnd, depth + 1)}, {_float_expr(rnd, depth + 1)})"
    op = rnd.choice(["+", "-", "*", "/", "%", "//"])
    return f"({_float_expr(rnd, depth + 1)} {op} {_float_expr(rnd, depth + 1)})"


def _program(rnd: random.Random) -> str:
    cond = rnd.choice(["i % 2 == 0", "acc > b", "a < 0 or i == 2", "s < x", "not (i > 3)"])
    steps = rnd.randint(1, 40)
    a, b = rnd.randint(-2**40, 2**40), rnd.randint(-50, 50)
    x, y = rnd.uniform(-1e3, 1e3), rnd.choice([0.0, 1e-300, -2.5, 7.0])
    return f"""import math
fn work(a: int, b: int, x: float, y: float, xs: Array<float>) -> float {{
    var acc = 0
    var s = 0.0
    let n = len(xs)
    for i in 0..{steps} {{
        if {cond} {{
            acc = {_int_expr(rnd)}
        }} else {{
            s = {_float_expr(rnd)}
        }}
        var k = 0
        while k < {rnd.randint(0, 3)} {{
            s = s + {_float_expr(rnd)}
            k = k + 1
        }}
    }}
    return s + float(acc % 1000)
}}

fn main() {{
    let xs = linspace({rnd.uniform(-5, 5)}, {rnd.uniform(-5, 5)}, {rnd.randint(1, 9)})
    print(work({a}, {b}, {x!r}, {y!r}, xs))
}}
"""


def differential_campaign(count: int, seed: int, deadline: float | None = None) -> Report:
    from noodle.build.driver import compile_source
    from noodle.errors import CompileError

    report = Report("differential", seed)
    rnd = random.Random(seed)
    for n in range(count):
        if deadline is not None and time.monotonic() > deadline:
            break
        case_seed = rnd.randrange(1 << 30)
        text = _program(random.Random(case_seed))
        report.tried += 1
        try:
            module = compile_source(text, "gen.nd", "gen")[1]
        except CompileError as e:
            report.outcomes["did not compile"] += 1
            report.findings.append(f"differential seed {case_seed}: generated program rejected: "
                                   f"{e.diagnostics[0].message[:100]}")
            continue
        try:
            vm_out, native_out = _run_module(module, "vm"), _run_module(module, "auto")
        except Exception as e:  # noqa: BLE001 - a finding
            report.outcomes["crash"] += 1
            report.findings.append(f"differential seed {case_seed}: {type(e).__name__}: {str(e)[:100]}")
            continue
        if vm_out != native_out:
            report.outcomes["different"] += 1
            report.findings.append(f"differential seed {case_seed}: VM {vm_out!r} native {native_out!r}")
        elif vm_out.endswith("ok"):
            report.outcomes["same result"] += 1
        else:
            report.outcomes["same error"] += 1
    return report


CAMPAIGNS: dict[str, Callable[[int, int, "float | None"], Report]] = {
    "source": source_campaign, "module": module_campaign, "differential": differential_campaign}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("campaigns", nargs="*", metavar="CAMPAIGN", help=f"any of {', '.join(CAMPAIGNS)} (default: all)")
    ap.add_argument("--count", type=int, default=1000, help="inputs per campaign (at most)")
    ap.add_argument("--seconds", type=float, default=None, help="stop each campaign after this long")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    unknown = [c for c in args.campaigns if c not in CAMPAIGNS]
    if unknown:
        ap.error(f"unknown campaign {unknown[0]!r} (choose from {', '.join(CAMPAIGNS)})")
    found = 0
    for name in args.campaigns or list(CAMPAIGNS):
        t0 = time.monotonic()
        deadline = t0 + args.seconds if args.seconds else None
        report = CAMPAIGNS[name](args.count, args.seed, deadline)
        report.seconds = time.monotonic() - t0
        print(json.dumps(report.as_dict()), flush=True)
        found += len(report.findings)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
