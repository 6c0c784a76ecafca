"""Every opcode has an encoder, a verifier rule, a translation and a disassembly, all keyed by the
`Op` enum of noodle/format/opcodes.py (no opcode-name strings).

The encoder and the disassembler are checked by what they do: a corpus (the examples and a
program for the operators they do not use) compiled to bytecode uses every opcode, the verifier
accepts every module of it, the disassembler names every instruction of it, and each module
still runs after translation.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from noodle.build.driver import CompileOptions, Project, compile_source
from noodle.format.disasm import disassemble
from noodle.format.module_file import decode, encode
from noodle.format.opcodes import BY_NAME, NUM_OPS, OPS, Op
from noodle.vm.translate import translate_module, translated_ops
from noodle.vm.verify import verify

ROOT = Path(__file__).resolve().parent.parent
#: never emitted by the compiler: a placeholder for hand-assembled (and patched) bytecode
NOT_EMITTED = {Op.NOP}

OPERATORS = """
fn bits(a: int, b: int) -> int { return (a & b) | (a ^ b) | (a << 2) | (b >> 1) }
fn floats(x: float, y: float) -> float { return x // y + x % y }
fn ranges(n: int) -> int {
    var t = 0
    for i in 1..=n { t += i }
    let r = 0..n
    if 2 in r { t += 1 }
    return t
}
fn main() { print(bits(12, 10), floats(7.5, 2.0), ranges(4)) }
"""


def corpus() -> list:
    modules = []
    for path in sorted((ROOT / "examples").glob("*.nd")):
        if path.name.startswith("bad_"):
            continue
        modules.append(Project(path.parent, CompileOptions(1, False)).compile_file(path).module)
    modules.append(compile_source(OPERATORS, "operators.nd", "operators")[1])
    return modules


@pytest.fixture(scope="module")
def modules() -> list:
    return corpus()


def ops_in(module) -> set[int]:
    return {f.code[i] for f in module.functions for i in range(0, len(f.code), 4)}


def test_the_enum_and_the_table_agree() -> None:
    assert [op.name for op in Op] == [info.name for info in OPS] and len(Op) == NUM_OPS
    assert all(BY_NAME[op.name] == op for op in Op)


def test_every_opcode_has_a_translation() -> None:
    assert translated_ops() == set(Op)


def test_every_opcode_is_emitted_by_the_compiler(modules: list) -> None:
    used = set().union(*(ops_in(m) for m in modules))
    assert {Op(x) for x in used} == set(Op) - NOT_EMITTED


def test_every_module_of_the_corpus_verifies_translates_and_disassembles(modules: list) -> None:
    for module in modules:
        module = decode(encode(module), "corpus.nbc")
        verify(module, "corpus.nbc")
        translate_module(module)
        listing = disassemble(module)
        named = set(re.findall(r"\b([A-Z][A-Z0-9_]+)\b", listing))
        assert {Op(x).name for x in ops_in(module)} <= named
