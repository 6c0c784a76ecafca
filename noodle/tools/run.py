"""What `noodle run` and `noodle test` do, free of any command-line library.

Kept apart from the click commands so that `noodle run FILE` starts fast:
the CLI entry point calls :func:`run_file` directly for the common case and
imports click and rich only for everything else.
"""
from __future__ import annotations

import os
import re
import sys

EXIT_OK, EXIT_ERROR, EXIT_COMPILE = 0, 1, 2
#: the program file cannot be opened (sysexits' EX_NOINPUT); a wrong command line exits 2, as click's do
EXIT_NO_FILE, EXIT_USAGE = 66, 2


def _print_err(text: str) -> None:
    sys.stderr.write(text + "\n")


class WarningPolicy:
    """Which warnings a command shows: `-A CODE` allows (hides) one, `-A all` every one; `-D CODE`
    denies one (it becomes an error).  Warnings go to stderr as the program is loaded."""

    __slots__ = ("allow", "deny", "stream")

    def __init__(self, allow: "tuple[str, ...] | frozenset[str]" = (), deny: "tuple[str, ...] | frozenset[str]" = (),
                 stream=None) -> None:  # noqa: ANN001
        self.allow, self.deny, self.stream = frozenset(allow), frozenset(deny), stream

    def keeps(self, code: str) -> bool:
        return code in self.deny or not (code in self.allow or "all" in self.allow)

    def show_rendered(self, items: "list | None") -> None:
        """Warnings kept with a cache entry (JSON with their rendered text)."""
        out = self.stream or sys.stderr
        for w in items or []:
            if self.keeps(str(w.get("code", ""))) and isinstance(w.get("rendered"), str):
                out.write(w["rendered"] + "\n")

    def show(self, project) -> None:  # noqa: ANN001 - a Project
        if project.warnings:
            from noodle.tools.render import print_diagnostics
            print_diagnostics(project.warnings, project.sources, self.stream or sys.stderr)
            project.warnings = []


_QUIET = WarningPolicy(("all",))


def load_program(path: str, opt_level: int = 1, use_cache: bool = True, warnings: "WarningPolicy | None" = None,
                 trusted_keys: "list[bytes] | None" = None):
    """Compile (or load from cache) the program at `path` and link it into a fresh machine.

    Returns (machine, loaded module), top-level code not yet run.  A `.nbc`
    path is loaded as it is, with imports looked up as `.nbc` files beside
    it; a `.nd` path is compiled — or, when `__noodlecache__/` holds images
    still valid for it and everything it imports, linked from those without
    importing the compiler at all.
    """
    from noodle.vm.machine import Machine

    warnings = warnings or _QUIET
    if path.endswith(".nbc"):
        return _load_nbc(path, trusted_keys)
    if trusted_keys is not None:  # only signed module files run: source is compiled by nobody trusted
        from noodle.errors import LoadError
        raise LoadError("only signed .nbc modules run here", path)
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
        image = read_image(root, name, source) if source is not None and not warnings.deny else None
        if image is not None:
            from noodle.format.cache import read_warnings
            warnings.show_rendered(read_warnings(root, name))
            machine = Machine(lambda dep: _find_import(root, dep, opt_level, warnings), source_root=root)
            return machine, machine.load(image, run_init=False)
    from pathlib import Path

    from noodle.build.driver import CompileOptions, Project

    project = Project(Path(root), CompileOptions(opt_level, use_cache, allow=warnings.allow, deny=warnings.deny,
                                                 offload=offload))
    compiled = project.compile_file(Path(path), display=path)
    warnings.show(project)

    def find(dep: str):
        module = project.find(dep)
        warnings.show(project)
        return _image_for(root, dep, module, cache)

    machine = Machine(find, source_root=root)
    return machine, machine.load(_image_for(root, compiled.name, compiled.module, cache), run_init=False)


def _offload(opt_level: int) -> frozenset:
    """The intents to compile OpenCL dispatches for (noodle.backends.opencl.selection.offered:
    measured, else the defaults of the device's kind, asked of the driver once per cache)."""
    backend = os.environ.get("NOODLE_BACKEND", "auto")
    if opt_level < 1 or backend == "vm":
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


def _find_import(root: str, name: str, opt_level: int, warnings: "WarningPolicy | None" = None):
    """An imported module for the fast path: its cached image when valid, else compiled."""
    from noodle.format.cache import read_source, read_warnings
    from noodle.vm.cache import read_image

    warnings = warnings or _QUIET
    source = read_source(root, name)
    image = read_image(root, name, source) if source is not None else None
    if image is not None:
        warnings.show_rendered(read_warnings(root, name))
        return image
    from pathlib import Path

    from noodle.build.driver import CompileOptions, Project

    project = Project(Path(root), CompileOptions(opt_level, True, allow=warnings.allow, deny=warnings.deny))
    module = project.find(name)
    warnings.show(project)
    return _image_for(root, name, module, True)


def _load_nbc(path: str, trusted_keys: "list[bytes] | None" = None):
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
        return load_bytes(read(dep, f"imported module {name!r}"), dep, trusted_keys)

    module = load_bytes(read(path, "module file"), path, trusted_keys)
    machine = Machine(find_nbc)
    return machine, machine.load(module, run_init=False)


def run_file(path: str, args: list[str] | None = None, opt_level: int = 1, use_cache: bool = True,
             warnings: "WarningPolicy | None" = None, trusted_keys: "list[bytes] | None" = None,
             cluster: str | None = None, explain: bool = False) -> int:
    """`noodle run FILE`: exit 0 on success, 1 on an uncaught error, 2 when it does not compile."""
    from noodle.errors import CompileError, LoadError, ProgramExit
    from noodle.runtime.errors import NoodleRuntimeError

    if not os.path.isfile(path):
        reason = "is a directory" if os.path.isdir(path) else "no such file" if not os.path.exists(path) \
            else "not a regular file"
        _print_err(f"noodle: cannot open {path}: {reason}")
        return EXIT_NO_FILE
    _python_world(path)
    try:
        machine, lm = load_program(path, opt_level, use_cache, warnings or WarningPolicy(), trusted_keys)
        machine.args = list(args or [])
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
    if any(report.startswith("native:") for report in machine.native_report.values()):
        from noodle.vm.native import stop_on_sigint
        stop_on_sigint()  # Ctrl-C must reach native loops too
    runner = None
    if _uses_parallel(machine):
        from noodle.parallel.cluster import ClusterError
        try:
            runner = install_parallel(machine, path, opt_level, use_cache, cluster, explain)
        except ClusterError as e:
            _print_err(f"error: {e}")
            return EXIT_ERROR
    try:
        machine.call(lm, lm.functions["__init__"])
        machine.run_main(lm)
    except NoodleRuntimeError as e:
        sys.stdout.flush()
        from noodle.tools.render import print_runtime_error
        print_runtime_error(e)
        return EXIT_ERROR
    except ProgramExit as e:
        status = e.code
        try:
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            _silence_stdout()
        return status
    except KeyboardInterrupt:
        _print_err("interrupted")
        return 130
    except BaseException as e:
        from noodle.stdlib.natives import OutputClosed
        if type(e).__name__ == "Stopped" and type(e).__module__ == "noodle.backends.llvm.stop":
            _print_err("interrupted")  # native code stopped at Ctrl-C before Python could say so
            return 130
        if not isinstance(e, OutputClosed):
            raise
        _silence_stdout()
        return 141
    finally:
        if runner is not None:
            runner.close()
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        _silence_stdout()
        return 141
    return EXIT_OK


def _uses_parallel(machine) -> bool:  # noqa: ANN001 - a Machine
    return any(n in ("parallel.map", "parallel.reduce") for lm in machine.modules.values()
               for n in lm.image.natives.values())


def install_parallel(machine, path: str, opt_level: int = 1, use_cache: bool = True,  # noqa: ANN001, ANN201
                     cluster: str | None = None, explain: bool = False):
    """Give `machine` a parallel runner whose workers get the program's modules as `.nbc` bytes
    (recompiled from the sources, or read beside a `.nbc` program); starts or joins `cluster`."""
    from noodle.format.module_file import encode
    from noodle.parallel.runner import ParallelRunner

    memo: dict[str, bytes] = {}
    root = os.path.dirname(path) or "."

    def module_bytes(name: str) -> bytes:
        if name not in memo:
            if path.endswith(".nbc"):
                file = path if name == _main_name(path) else os.path.join(root, f"{name}.nbc")
                with open(file, "rb") as f:
                    memo[name] = f.read()
            else:
                from pathlib import Path

                from noodle.build.driver import CompileOptions, Project

                project = Project(Path(root), CompileOptions(opt_level, use_cache, allow=("all",)))
                module = project.compile_file(Path(path), display=path).module if name == _main_name(path) \
                    else project.find(name)
                memo[name] = encode(module)
        return memo[name]

    dask = None
    if cluster:
        from noodle.parallel.cluster import DaskCluster
        dask = DaskCluster(cluster)
    runner = ParallelRunner(machine, module_bytes, dask, log=True if explain else None)
    machine.parallel = runner
    return runner


def _main_name(path: str) -> str:
    from noodle.format.cache import identifier

    return identifier(os.path.splitext(os.path.basename(path))[0])


def _python_world(path: str, record: bool = True) -> None:
    """What the program's first `import py` starts: the usage log and the promoted replacements
    (`noodle test` only finds the program's own Python files: tests are not usage)."""
    from noodle.vm.pyffi import session

    def start() -> None:
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in sys.path:  # `import py mylib` finds mylib.py beside the program
            sys.path.insert(0, folder)
        if not record:
            return
        from noodle.vm.pyffi import recorder

        db = recorder.database_path(path)
        if db is None:  # NOODLE_ALE=off: no log, no replacements
            return
        capture = os.environ.get("NOODLE_ALE_CAPTURE", "") not in ("", "0")
        try:
            recorder.start(db, path, capture=capture)
            if db.exists():
                from noodle.ale.serving import install
                from noodle.tools.ale_vms import plain_vm

                install(db, plain_vm)
        except Exception as e:  # the log is a service: the program runs without it
            _print_err(f"warning: the usage log at {db} is not available: {e}")

    session.install(start)


def _silence_stdout() -> None:
    """After the reader of stdout has gone, keep Python's exit-time flush from complaining."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


#: the `noodle` subcommands; any other first word that names a file runs it (`noodle app.nd`)
SUBCOMMANDS = frozenset({"run", "test", "check", "disasm", "repl", "tune", "ale", "keygen", "worker"})

#: `noodle run` options: name -> allowed values (None: a flag)
RUN_OPTIONS: dict[str, tuple[str, ...] | None] = {
    "-O": ("0", "1", "2"), "--no-cache": None, "--watch": None, "--backend": ("auto", "vm", "opencl"),
    "--mode": ("optimized", "safe"), "--color": ("auto", "always", "never"), "--ale-capture": None,
    "-A": ("CODE",), "-D": ("CODE",),  # a warning code (W0101) or `all`; repeatable
    "--require-signed": None, "--trust": ("KEY",),  # a public key file or hex; repeatable
    "--cluster": ("ADDRESS",),  # local:N or a Dask scheduler's address (parallel.map runs there)
    "--explain": None,  # say where each parallel.map ran and why (as NOODLE_PARALLEL_LOG=1)
}
_CODE = re.compile(r"W\d{4}|all\Z")


class UsageError(Exception):
    """A wrong `noodle run` command line."""


class RunRequest:
    """`noodle [run] [OPTIONS] FILE [--] [ARGS...]`, parsed."""

    __slots__ = ("file", "args", "options")

    def __init__(self, file: str, args: list[str], options: dict[str, str]) -> None:
        self.file, self.args, self.options = file, args, options


def parse_run(argv: list[str]) -> RunRequest | None:
    """Options, then FILE, then the program's arguments: everything after FILE belongs to the
    program, as with python and node (`--` before them is allowed and dropped).  An unknown option
    before FILE is an error.  None when help was asked for (click prints it)."""
    options: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg in ("-h", "--help"):
            return None
        name, eq, value = arg.partition("=")
        if name[:2] in ("-O", "-A", "-D") and not name.startswith("--") and len(name) > 2:
            name, value, eq = name[:2], name[2:], "="
        if name not in RUN_OPTIONS:
            raise UsageError(f"unknown option {arg!r}")
        allowed = RUN_OPTIONS[name]
        if allowed is None:
            if eq:
                raise UsageError(f"option {name} takes no value")
            options[name] = "1"
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"option {name} needs a value: {', '.join(allowed)}")
                value = argv[i]
            if allowed == ("ADDRESS",):
                options[name] = value
                i += 1
                continue
            if allowed == ("KEY",):
                options[name] = "\n".join(filter(None, [options.get(name, ""), value]))
                i += 1
                continue
            if allowed == ("CODE",):
                if not _CODE.fullmatch(value):
                    raise UsageError(f"option {name}: {value!r} is not a warning code (W0101) or `all`")
                options[name] = ",".join(filter(None, [options.get(name, ""), value]))
                i += 1
                continue
            if value not in allowed:
                raise UsageError(f"option {name}: {value!r} is not one of {', '.join(allowed)}")
            options[name] = value
        i += 1
    if i >= len(argv):
        raise UsageError("no program file given")
    rest = argv[i + 1:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    return RunRequest(argv[i], rest, options)


def fast_main(argv: list[str]) -> int | None:
    """`noodle run ...` and `noodle FILE ...` without importing click/rich; None when not applicable."""
    if not argv:
        return None
    if argv[0] == "run":
        rest = argv[1:]
        if not rest:
            return None  # `noodle run` alone: the REPL
    elif argv[0] in SUBCOMMANDS or argv[0].startswith("-") and argv[0].partition("=")[0] not in RUN_OPTIONS \
            and not argv[0].startswith("-O"):
        return None
    elif argv[0].startswith("-") or argv[0].endswith((".nd", ".nbc")) or os.path.exists(argv[0]) or "/" in argv[0]:
        rest = argv
    else:
        return None  # click says there is no such command
    try:
        request = parse_run(rest)
    except UsageError as e:
        _print_err(f"noodle run: {e}\nusage: noodle [run] [OPTIONS] FILE [--] [ARGS...]  (noodle run --help)")
        return EXIT_USAGE
    if request is None:
        return None
    return run_request(request)


def run_request(request: RunRequest) -> int:
    """Run a parsed `noodle run` command line."""
    o = request.options
    if "--backend" in o:
        os.environ["NOODLE_BACKEND"] = o["--backend"]
    if "--mode" in o:
        os.environ["NOODLE_MODE"] = o["--mode"]
    if "--color" in o:
        os.environ["NOODLE_COLOR"] = o["--color"]
    if "--ale-capture" in o:
        os.environ["NOODLE_ALE_CAPTURE"] = "1"
    keys = None
    if "--require-signed" in o or "--trust" in o:
        from noodle.format.signing import KeyError_, public_key
        if "--require-signed" not in o:
            _print_err("noodle run: --trust is only used with --require-signed")
            return EXIT_USAGE
        if "--trust" not in o:
            _print_err("noodle run: --require-signed needs at least one key given with --trust KEY.pub")
            return EXIT_USAGE
        if "--watch" in o or not request.file.endswith(".nbc"):
            _print_err("error: --require-signed runs only signed .nbc modules (compile and sign with "
                       "`noodlec FILE.nd --sign KEY.key`)")
            return EXIT_ERROR
        try:
            keys = [public_key(k) for k in o["--trust"].split("\n")]
        except KeyError_ as e:
            _print_err(f"error: {e}")
            return EXIT_ERROR
    if "--watch" in o:
        from noodle.tools.watch import watch as watch_file
        return watch_file(request.file)
    policy = WarningPolicy(tuple(filter(None, o.get("-A", "").split(","))), tuple(filter(None, o.get("-D", "").split(","))))
    return run_file(request.file, request.args, int(o.get("-O", "1")), "--no-cache" not in o, policy, keys,
                    cluster=o.get("--cluster") or os.environ.get("NOODLE_CLUSTER") or None,
                    explain="--explain" in o)
