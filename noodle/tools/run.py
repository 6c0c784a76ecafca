"""What `noodle run` and `noodle test` do, free of any command-line library.

Kept apart from the click commands so that `noodle run FILE` starts fast:
the CLI entry point calls :func:`run_file` directly for the common case and
imports click and rich only for everything else.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_COMPILE = 0, 1, 2


def _print_err(text: str) -> None:
    sys.stderr.write(text + "\n")


def load_program(path: str, opt_level: int = 1, use_cache: bool = True):
    """Compile (or load from cache) the program at `path` and link it into a fresh machine.

    Returns (machine, loaded module).  A `.nbc` path is loaded as it is, with
    imports looked up as `.nbc` files beside it; a `.nd` path goes through the
    compiler.
    """
    from noodle.vm.machine import Machine
    from noodle.vm.module_file import LoadError
    from noodle.vm.verify import load_bytes

    p = Path(path)
    if p.suffix == ".nbc":
        def find_nbc(name: str):
            dep = p.parent / f"{name}.nbc"
            try:
                return load_bytes(dep.read_bytes(), str(dep))
            except OSError as e:
                raise LoadError(f"cannot read imported module {name!r}: {e.strerror}", str(dep)) from None
        try:
            data = p.read_bytes()
        except OSError as e:
            raise LoadError(f"cannot read module file: {e.strerror}", path) from None
        module = load_bytes(data, path)
        machine = Machine(find_nbc)
        return machine, machine.load(module, run_init=False)
    root = p.parent
    if use_cache and opt_level == 1:
        # Fast start: a valid cached module (and cached imports) runs without importing the compiler.
        from noodle.vm.cache import read_cached
        try:
            source = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            source = None
        cached = read_cached(root, p.stem, source) if source is not None else None
        if cached is not None:
            machine = Machine(lambda name: _find_import(root, name, opt_level))
            return machine, machine.load(cached, run_init=False)
    from noodle.compiler.driver import CompileOptions, Project

    project = Project(root, CompileOptions(opt_level, use_cache))
    compiled = project.compile_file(p, display=path)
    machine = Machine(project.find)
    return machine, machine.load(compiled.module, run_init=False)


def _find_import(root: Path, name: str, opt_level: int):
    """An imported module: from the cache when valid, else compiled."""
    from noodle.vm.cache import module_path, read_cached

    try:
        cached = read_cached(root, name, module_path(root, name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        cached = None
    if cached is not None:
        return cached
    from noodle.compiler.driver import CompileOptions, Project

    return Project(root, CompileOptions(opt_level, True)).find(name)


def run_file(path: str, args: list[str] | None = None, opt_level: int = 1, use_cache: bool = True) -> int:
    """`noodle run FILE`: exit 0 on success, 1 on an uncaught error, 2 when it does not compile."""
    from noodle.errors import CompileError, LoadError
    from noodle.vm.errors import NoodleRuntimeError

    sys.argv = [path] + list(args or [])
    try:
        machine, lm = load_program(path, opt_level, use_cache)
    except CompileError as e:
        _print_err(e.render())
        return EXIT_COMPILE
    except LoadError as e:
        _print_err(f"error: {e}")
        return EXIT_ERROR
    try:
        machine.call(lm, lm.functions["__init__"])
        machine.run_main(lm)
    except NoodleRuntimeError as e:
        sys.stdout.flush()
        _print_err(e.render())
        return EXIT_ERROR
    except KeyboardInterrupt:
        _print_err("interrupted")
        return 130
    except BaseException as e:
        from noodle.stdlib.natives import OutputClosed
        if not isinstance(e, OutputClosed):
            raise
        _silence_stdout()
        return 141
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        _silence_stdout()
        return 141
    return EXIT_OK


def _silence_stdout() -> None:
    """After the reader of stdout has gone, keep Python's exit-time flush from complaining."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def test_files(paths: list[str]) -> int:
    """`noodle test FILES`: one line per test, then `N passed, N failed`; exit 1 if any failed."""
    from noodle.errors import CompileError, LoadError
    from noodle.vm.errors import NoodleRuntimeError

    passed = failed = 0
    status = EXIT_OK
    for path in paths:
        try:
            machine, lm = load_program(path)
            machine.call(lm, lm.functions["__init__"])
        except CompileError as e:
            _print_err(e.render())
            status = EXIT_COMPILE
            continue
        except (LoadError, NoodleRuntimeError) as e:
            _print_err(f"error: {e}")
            failed += 1
            continue
        for result in machine.run_tests(lm):
            if result.passed:
                passed += 1
                print(f"PASS {result.name}")
            else:
                failed += 1
                assert result.error is not None
                print(f"FAIL {result.name}: {result.error.message}")
                frames = "\n".join(str(f) for f in result.error.stack)
                if frames and os.environ.get("NOODLE_TEST_VERBOSE"):
                    print(frames)
    print(f"{passed} passed, {failed} failed")
    if status != EXIT_OK:
        return status
    return EXIT_ERROR if failed else EXIT_OK


def fast_main(argv: list[str]) -> int | None:
    """Handle `noodle run FILE [ARGS...]` without importing click/rich; None when not applicable."""
    if len(argv) >= 2 and argv[0] == "run" and not argv[1].startswith("-"):
        return run_file(argv[1], argv[2:])
    return None
