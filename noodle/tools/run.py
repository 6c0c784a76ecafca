"""What `noodle run` and `noodle test` do, free of any command-line library.

Kept apart from the click commands so that `noodle run FILE` starts fast:
the CLI entry point calls :func:`run_file` directly for the common case and
imports click and rich only for everything else.
"""
from __future__ import annotations

import os
import sys

EXIT_OK, EXIT_ERROR, EXIT_COMPILE = 0, 1, 2


def _print_err(text: str) -> None:
    sys.stderr.write(text + "\n")


def load_program(path: str, opt_level: int = 1, use_cache: bool = True):
    """Compile (or load from cache) the program at `path` and link it into a fresh machine.

    Returns (machine, loaded module), top-level code not yet run.  A `.nbc`
    path is loaded as it is, with imports looked up as `.nbc` files beside
    it; a `.nd` path is compiled — or, when `__noodlecache__/` holds images
    still valid for it and everything it imports, linked from those without
    importing the compiler at all.
    """
    from noodle.vm.machine import Machine

    if path.endswith(".nbc"):
        return _load_nbc(path)
    root = os.path.dirname(path) or "."
    # a program built with OpenCL dispatches is not cached: the cache holds the build every run can use
    offload = _offload(opt_level)
    cache = use_cache and opt_level == 1 and not offload
    from noodle.format.cache import identifier

    name = identifier(os.path.splitext(os.path.basename(path))[0])
    if cache:
        from noodle.vm.cache import read_image
        try:
            with open(path, encoding="utf-8") as f:
                source: str | None = f.read()
        except (OSError, UnicodeDecodeError):
            source = None
        image = read_image(root, name, source) if source is not None else None
        if image is not None:
            machine = Machine(lambda dep: _find_import(root, dep, opt_level), source_root=root)
            return machine, machine.load(image, run_init=False)
    from pathlib import Path

    from noodle.build.driver import CompileOptions, Project

    project = Project(Path(root), CompileOptions(opt_level, use_cache, offload=offload))
    compiled = project.compile_file(Path(path), display=path)

    def find(dep: str):
        module = project.find(dep)
        return _image_for(root, dep, module, cache)

    machine = Machine(find, source_root=root)
    return machine, machine.load(_image_for(root, compiled.name, compiled.module, cache), run_init=False)


def _offload(opt_level: int) -> frozenset:
    """The intents to compile OpenCL dispatches for (noodle.backends.opencl.selection.offered);
    on the common path — nothing forced, nothing measured — without importing anything more."""
    backend = os.environ.get("NOODLE_BACKEND", "auto")
    if opt_level < 1 or backend == "vm":
        return frozenset()
    if backend != "opencl":
        from noodle.format.thresholds import opencl_measured
        if not opencl_measured():
            return frozenset()
    from noodle.backends.opencl.selection import offered
    return offered()


def _image_for(root: str, name: str, module, cache: bool):
    """Build a module's image, keeping it in the cache for the next start."""
    from noodle.vm.image import build_image

    image = build_image(module)
    if cache:
        from noodle.format.cache import write_image
        write_image(root, name, image)
    return image


def _find_import(root: str, name: str, opt_level: int):
    """An imported module for the fast path: its cached image when valid, else compiled."""
    from noodle.format.cache import read_source
    from noodle.vm.cache import read_image

    source = read_source(root, name)
    image = read_image(root, name, source) if source is not None else None
    if image is not None:
        return image
    from pathlib import Path

    from noodle.build.driver import CompileOptions, Project

    return _image_for(root, name, Project(Path(root), CompileOptions(opt_level, True)).find(name), True)


def _load_nbc(path: str):
    from noodle.errors import LoadError
    from noodle.vm.machine import Machine
    from noodle.vm.verify import load_bytes

    def read(p: str, what: str) -> bytes:
        try:
            with open(p, "rb") as f:
                return f.read()
        except OSError as e:
            raise LoadError(f"cannot read {what}: {e.strerror}", p) from None

    folder = os.path.dirname(path)

    def find_nbc(name: str):
        dep = os.path.join(folder, f"{name}.nbc")
        return load_bytes(read(dep, f"imported module {name!r}"), dep)

    module = load_bytes(read(path, "module file"), path)
    machine = Machine(find_nbc)
    return machine, machine.load(module, run_init=False)


def run_file(path: str, args: list[str] | None = None, opt_level: int = 1, use_cache: bool = True) -> int:
    """`noodle run FILE`: exit 0 on success, 1 on an uncaught error, 2 when it does not compile."""
    from noodle.errors import CompileError, LoadError
    from noodle.runtime.errors import NoodleRuntimeError

    sys.argv = [path] + list(args or [])
    try:
        machine, lm = load_program(path, opt_level, use_cache)
    except CompileError as e:
        from noodle.tools.render import print_compile_error
        print_compile_error(e)
        return EXIT_COMPILE
    except LoadError as e:
        _print_err(f"error: {e}")
        return EXIT_ERROR
    except Exception as e:  # a bug in the compiler: said plainly, not as a traceback
        if os.environ.get("NOODLE_TRACEBACK"):
            raise
        from noodle.errors import internal_error_text
        _print_err(internal_error_text(e))
        return EXIT_ERROR
    try:
        machine.call(lm, lm.functions["__init__"])
        machine.run_main(lm)
    except NoodleRuntimeError as e:
        sys.stdout.flush()
        from noodle.tools.render import print_runtime_error
        print_runtime_error(e)
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
    from noodle.runtime.errors import NoodleRuntimeError

    passed = failed = 0
    status = EXIT_OK
    for path in paths:
        try:
            machine, lm = load_program(path)
            machine.call(lm, lm.functions["__init__"])
        except CompileError as e:
            from noodle.tools.render import print_compile_error
            print_compile_error(e)
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
