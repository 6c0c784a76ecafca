"""What `noodlec --explain` says, as an editor shows it: code lenses, inlay hints, `@no_optimize`.

Above each function, loop nest and array expression, a code lens carries the optimiser's own
sentence (:mod:`noodle.ir.explain`): the intent recognised and the variants that run it, where
its loops run (native code or the VM, and why not native).  At the end of the line an inlay hint
says the same in a few words ("dot product → BLAS (numpy.dot)").  A code action adds
`@no_optimize` to the function around the cursor (its loops then run as written) or removes it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from noodle.compiler import ast
from noodle.compiler.parser import parse
from noodle.errors import CompileError

#: an inlay hint's label is cut to this many characters (the lens and the tooltip have it all)
HINT_WIDTH = 64
_PREFIX = re.compile(r"^(?:[\w ]+ in [\w.]+|fn [\w.]+): ")
_LINE = re.compile(r"^line \d+: ")


@dataclass(frozen=True, slots=True)
class Explanation:
    """One sentence of `--explain` about the construct on a 1-based line."""

    line: int
    text: str

    @property
    def summary(self) -> str:
        """The sentence in a few words: what was recognised, and what runs it (or why the VM does)."""
        parts = _PREFIX.sub("", self.text, count=1).split(" — ")
        if parts[0] == "VM" and len(parts) > 1:  # a function: why it is not native code
            short = "VM: " + _LINE.sub("", parts[1])
        elif len(parts) == 1:
            short = _first_variant(parts[0])
        else:
            what = parts[0].removesuffix(" recognised").split(":")[0]
            how = ("VM: " + _LINE.sub("", parts[2]) if parts[1] == "VM" and len(parts) > 2
                   else _first_variant(parts[1]))
            short = f"{what} → {how}"
        return short if len(short) <= HINT_WIDTH else short[:HINT_WIDTH - 1] + "…"


def _first_variant(text: str) -> str:
    return text.split(" when ")[0].split("; ")[0]


def explanations(compiled: object) -> list[Explanation]:
    """The `--explain` sentences of a compiled module (noodle.build.driver.Compiled), by line."""
    from noodle.backends.llvm import available, decide
    from noodle.ir.explain import explain_functions, explain_loops
    from noodle.ir.native_plan import plan
    from noodle.ir.nodes import decode_module

    module_ir = decode_module(compiled.module.ir)  # type: ignore[attr-defined]
    # the loader's own decision (as `noodlec --explain`): the plan less what the backend fails to lower
    p = decide(module_ir).plan if available() else plan(module_ir)
    found = explain_functions(module_ir, p, available()) + explain_loops(module_ir, p)
    seen: set[tuple[int, str]] = set()
    out = []
    for line, text in sorted(found, key=lambda x: x[0]):
        if (line, text) not in seen and line > 0:
            seen.add((line, text))
            out.append(Explanation(line, text))
    return out


# ------------------------------------------------------------------ @no_optimize


@dataclass(frozen=True, slots=True)
class AttributeEdit:
    """Adding or removing `@no_optimize`: the title, and the text that replaces 0-based lines
    [start, end) (an insertion when they are equal)."""

    title: str
    start: int
    end: int
    text: str


def no_optimize_edit(source: str, file: str, line: int) -> AttributeEdit | None:
    """The edit that adds `@no_optimize` to the function around 0-based `line`, or removes it if
    the function has it (None outside functions, or when the text does not parse)."""
    try:
        module = parse(source, file)
    except CompileError:
        return None
    fn = _enclosing_function(module, line + 1)
    if fn is None:
        return None
    lines = source.split("\n")
    header = fn.span.line - 1  # the `fn` line; attributes are on the lines above it
    indent = lines[header][:len(lines[header]) - len(lines[header].lstrip())]
    if "no_optimize" in fn.attributes:
        i = header - 1
        while i >= 0 and lines[i].strip().startswith("@"):
            if lines[i].strip() == "@no_optimize":
                return AttributeEdit(f"Remove @no_optimize from `{fn.name}` (let the optimiser recognise its loops)",
                                     i, i + 1, "")
            i -= 1
        return None  # written on the `fn` line itself, with others: left to the programmer
    return AttributeEdit(f"Add @no_optimize to `{fn.name}` (run its loops exactly as written)",
                         header, header, f"{indent}@no_optimize\n")


def _enclosing_function(module: ast.Module, line: int) -> ast.FnDecl | None:
    for item in module.items:
        candidates = [item] if isinstance(item, ast.FnDecl) else item.methods if isinstance(item, ast.StructDecl) else []
        for fn in candidates:
            if fn.span.line - len(fn.attributes) <= line <= fn.span.end_line:
                return fn
    return None
