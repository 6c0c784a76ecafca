"""The layers are one-way: every import of every module of noodle/ goes down the order of noodle/layers.py.

The walk reads each file with `ast` (nothing is imported), so a function-local import, a relative
`from . import x` and an import behind `TYPE_CHECKING` count like any other.  A second test runs a
module file with the compiler made unimportable: the VM stands on the layers below it alone.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from noodle.layers import LAYERS, row_of, unit_of
from helpers import HANG_S

PACKAGE = Path(__file__).resolve().parent.parent / "noodle"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    """Does a dotted name name a module or package of noodle/ (as opposed to a name inside one)?"""
    base = PACKAGE.parent.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """Every noodle module a file imports (anywhere in it), with the line of the import."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.append((sub if is_module(sub) else base, node.lineno))
        elif (name == "noodle" and isinstance(node, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets)
              and isinstance(node.value, ast.Dict)):
            # the root's lazy names are imported by importlib from these module names
            found += [(v.value, node.lineno) for v in node.value.values if isinstance(v, ast.Constant)]
    return [(m, line) for m, line in found if m == "noodle" or m.startswith("noodle.")]


def all_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def violations() -> list[str]:
    """Every import against the order, as 'file:line: importer (row) imports imported (row)'."""
    out: list[str] = []
    for path in all_modules():
        importer = module_name(path)
        unit = unit_of(importer)
        if unit is None:
            out.append(f"{path}: module {importer} is in no layer (add it to noodle/layers.py)")
            continue
        row = row_of(unit)
        for imported, line in imported_modules(path):
            target = unit_of(imported)
            if target is None:
                out.append(f"{path}:{line}: {importer} imports {imported}, which is in no layer")
            elif target != unit and row_of(target) >= row:
                where = "sideways" if row_of(target) == row else "up"
                out.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {importer} (row {row}, {unit}) imports "
                           f"{imported} (row {row_of(target)}, {target}): {where}")
    return out


def test_every_import_goes_down_the_layers() -> None:
    assert violations() == []


def test_the_parent_packages_of_a_module_import_nothing_above_it() -> None:
    """Importing `noodle.ir.types` runs `noodle/__init__.py` and `noodle/ir/__init__.py` first."""
    problems = []
    for path in all_modules():
        name = module_name(path)
        row = row_of(unit_of(name) or "noodle")
        parts = name.split(".")
        for k in range(1, len(parts)):
            parent = ".".join(parts[:k])
            init = PACKAGE.parent.joinpath(*parts[:k], "__init__.py")
            tree = ast.parse(init.read_text(encoding="utf-8"))
            for node in tree.body:  # what runs on import (function bodies run later)
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("noodle"):
                    target = unit_of(node.module or "")
                    if target is None or row_of(target) > row:
                        problems.append(f"{parent}/__init__.py imports {node.module} above {name} (row {row})")
    assert problems == []


def test_the_walk_sees_the_imports_it_must_refuse(tmp_path: Path) -> None:
    """The checker above is only as good as its reading of imports: each form is found."""
    probe = PACKAGE / "vm" / "machine.py"
    found = {m for m, _ in imported_modules(probe)}
    assert "noodle.vm.image" in found and "noodle.vm.native" in found  # top-level and function-local
    relative = PACKAGE / "ir" / "passes" / "__init__.py"
    assert any(m.startswith("noodle.ir") for m, _ in imported_modules(relative))
    # an upward import planted in a leaf is reported
    bad = ast.parse("def f():\n    from noodle.vm.machine import Machine\n")
    assert any(isinstance(n, ast.ImportFrom) and unit_of(n.module) == "noodle.vm" for n in ast.walk(bad))
    assert row_of(unit_of("noodle.vm.machine")) > row_of(unit_of("noodle.runtime.values"))


def test_every_unit_is_placed_once() -> None:
    units = [u for row in LAYERS for u in row]
    assert len(units) == len(set(units))
    existing = {module_name(p).rsplit(".", 1)[0] for p in all_modules()} | {module_name(p) for p in all_modules()}
    assert all(u in existing or u in ("noodle.ale", "noodle.parallel") for u in units)


BLOCKER = textwrap.dedent('''
    import importlib.abc, sys
    BLOCKED = ("noodle.compiler", "noodle.build", "noodle.host", "noodle.tools", "lark", "click", "rich")

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ImportError(f"blocked by the test: {name}")
            return None

    sys.meta_path.insert(0, Refuse())
''')


def test_the_vm_runs_a_module_file_with_the_compiler_unimportable(tmp_path: Path) -> None:
    from noodle.build.driver import compile_source
    from noodle.format.module_file import encode

    source = ("fn fib(n: int) -> int {\n if n < 2 { return n }\n return fib(n - 1) + fib(n - 2)\n}\n"
              "fn main() {\n let xs = [1, 2, 3]\n print(\"fib(15) = {fib(15)}, sum {xs[0] + xs[1] + xs[2]}\")\n}\n")
    _, module = compile_source(source, "app.nd", "app")
    (tmp_path / "app.nbc").write_bytes(encode(module))
    script = BLOCKER + textwrap.dedent(f'''
        from noodle.vm.machine import Machine
        from noodle.vm.verify import load_bytes
        data = open({str(tmp_path / "app.nbc")!r}, "rb").read()
        machine = Machine()
        lm = machine.load(load_bytes(data, "app.nbc"), run_init=False)
        machine.call(lm, lm.functions["__init__"])
        machine.run_main(lm)
        try:
            import noodle.compiler.parser
        except ImportError as e:
            print("compiler refused:", e)
        loaded = sorted(m for m in sys.modules if m.startswith(("noodle.compiler", "noodle.build", "lark")))
        print("loaded:", loaded)
    ''')
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["fib(15) = 610, sum 6", "compiler refused: blocked by the test: noodle.compiler",
                                       "loaded: []"]


@pytest.mark.parametrize("blocked", ["noodle.compiler", "noodle.build"])
def test_the_blocker_really_blocks(blocked: str) -> None:
    """The subprocess test would pass vacuously if the finder let the compiler through."""
    script = BLOCKER + f"import {blocked}\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode != 0 and f"blocked by the test: {blocked}" in out.stderr


def test_every_module_imports_first_on_its_own() -> None:
    """A cycle that loads only in one order (a module that works only if another was imported
    before it) fails here: each module is imported first, into a fresh set of noodle modules."""
    script = textwrap.dedent('''
        import importlib, sys
        failed = []
        for name in sys.argv[1:]:
            for m in [m for m in sys.modules if m == "noodle" or m.startswith("noodle.")]:
                del sys.modules[m]
            try:
                importlib.import_module(name)
            except Exception as e:
                failed.append(f"{name}: {type(e).__name__}: {e}")
        print("\\n".join(failed))
    ''')
    names = [module_name(p) for p in all_modules()]
    out = subprocess.run([sys.executable, "-c", script, *names], capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
