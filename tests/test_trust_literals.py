"""Two inputs that escaped the designed errors: huge decimal literals and lone surrogates in source text."""
from __future__ import annotations

import pytest

import noodle
from helpers import diagnostics, output_of


@pytest.mark.parametrize("digits", [20, 4300, 4301, 10_000])
@pytest.mark.parametrize("sign", ["", "-"])
def test_a_decimal_literal_past_the_range_is_e0004_however_long(digits: int, sign: str) -> None:
    diags = diagnostics(f"fn main() {{ print({sign}{'9' * digits}) }}\n")
    assert [d.code for d in diags] == ["E0004"]


@pytest.mark.parametrize("text", ["0x" + "f" * 100, "0b" + "1" * 100, "0o" + "7" * 4400])
def test_prefixed_literals_past_the_range_are_e0004(text: str) -> None:
    assert [d.code for d in diagnostics(f"fn main() {{ print({text}) }}\n")] == ["E0004"]


def test_the_edges_of_the_range_still_compile() -> None:
    assert output_of("fn main() { print(-9223372036854775808, 9223372036854775807, 0" + "0" * 5000 + "7) }\n") \
        == "-9223372036854775808 9223372036854775807 7\n"


@pytest.mark.parametrize("where", ['"a\ud800b"', "// \udfff\n", "x\ud83d"])
def test_a_lone_surrogate_in_source_text_is_a_diagnostic(where: str) -> None:
    with pytest.raises(noodle.CompileError) as e:
        noodle.VM().load(noodle.Source(f"fn main() {{\n let s = {where}\n}}\n", name="sur"))
    codes = [d.code for d in e.value.diagnostics]
    assert codes[0] == "E0002" and "lone surrogate" in e.value.diagnostics[0].message
    e.value.render().encode("utf-8")  # the rendered error itself is printable text
