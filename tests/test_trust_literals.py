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


@pytest.mark.parametrize("text", ["1e400", "-1e309", "1.8e308", "179769313486231590" + "0" * 292 + ".0",
                                  '"{1e999}"'])
def test_a_float_literal_past_the_range_is_e0004_not_inf(text: str) -> None:
    diags = diagnostics(f"fn main() {{\n  print({text})\n}}\n")
    assert [d.code for d in diags] == ["E0004"]
    d = diags[0]
    assert d.message.startswith("float literal ") and d.message.endswith(" is out of the 64-bit float range")
    assert d.span.line == 2 and d.hint == "the largest float is about 1.7976931348623157e308; use math.inf for infinity"


def test_the_edges_of_the_float_range_still_compile() -> None:
    assert output_of("fn main() { print(1.7976931348623157e308, -1.7976931348623157e308, 5e-324, 1e-400) }\n") \
        == "1.7976931348623157e+308 -1.7976931348623157e+308 5e-324 0.0\n"


def test_noodlec_noodle_run_and_the_editor_share_the_float_range_error(tmp_path) -> None:
    from helpers import noodle as run_noodle, noodlec, write
    from noodle.tools.lsp import diagnostics_of

    src = "fn main() {\n  let x = 2.5e400\n  print(x)\n}\n"
    path = write(tmp_path, "big.nd", src)
    expected = "big.nd:2:11: error[E0004]: float literal 2.5e400 is out of the 64-bit float range"
    for p in (noodlec(["big.nd"], tmp_path), run_noodle(["run", "big.nd"], tmp_path)):
        assert p.returncode != 0 and p.stderr.splitlines()[0].endswith(expected), p.context()
        assert "Traceback" not in p.stderr and "inf" not in p.stdout
    [d] = diagnostics_of(path, src)
    assert (d.code, d.span.line, d.span.col, d.span.end_col) == ("E0004", 2, 11, 18)
