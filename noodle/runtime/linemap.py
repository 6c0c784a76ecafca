"""The line maps of generated code: Python code objects the VM made -> Noodle names and positions.

Code running in the VM is Python code generated from bytecode (see :mod:`noodle.vm.translate`);
every generated code object is registered here with a table from its Python line numbers to
Noodle source positions.  Values read it to name a function, errors to turn a Python traceback
into the Noodle stack, so it sits below both (a leaf: standard library only).
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CodeInfo:
    """What the VM knows about one generated Python source: its Noodle line map."""

    __slots__ = ("source_file", "lines", "pysource", "_pylines")

    def __init__(self, source_file: str, lines: dict[int, tuple], pysource: str = "") -> None:
        self.source_file = source_file
        #: python line -> (function display name, noodle line, noodle col[, call sites on the line])
        self.lines = lines
        self.pysource = pysource
        self._pylines: list[str] | None = None

    def call_position(self, code: Any, lasti: int, entry: tuple) -> tuple[int, int] | None:
        """The Noodle position of the call an instruction belongs to, when the line has several calls.

        CPython 3.11 knows each instruction's columns (`co_positions`); the translator recorded the
        text of each call on the line; the call whose text spans those columns is the one (the k-th
        of several identical calls is the k-th on the line).
        """
        if len(entry) < 4 or not self.pysource:
            return None
        try:
            lineno, end_lineno, col, end_col = list(code.co_positions())[lasti // 2]
        except (IndexError, ValueError, AttributeError):
            return None
        if lineno is None or col is None or end_col is None or lineno != end_lineno:
            return None
        if self._pylines is None:
            self._pylines = self.pysource.splitlines()
        if not 0 < lineno <= len(self._pylines):
            return None
        pyline = self._pylines[lineno - 1]
        text = pyline[col:end_col]
        same = [(line, c) for call, line, c in entry[3] if call == text]
        k = pyline.count(text, 0, col)
        return same[k] if k < len(same) else None


#: generated filename ("<noodle:...>") -> info
CODE_REGISTRY: dict[str, CodeInfo] = {}
