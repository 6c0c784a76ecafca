"""The `noodle` and `noodlec` commands.

`noodle run FILE` is served by :func:`noodle.tools.run.fast_main` without
importing click or rich (start-up time is part of the product); everything
else goes through the click groups below.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable


def main() -> None:
    """Entry point of `noodle`."""
    from noodle.tools.run import fast_main

    _use_measured_thresholds()
    code = fast_main(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    _guarded(_noodle_cli)


def noodlec_main() -> None:
    """Entry point of `noodlec`."""
    _use_measured_thresholds()
    _guarded(_noodlec_cli)


def _use_measured_thresholds() -> None:
    """The variant registry reads this machine's `noodle tune` results (on first use, not now)."""
    from noodle.ir import variants

    variants.measured_by(_measured_thresholds)


def _measured_thresholds() -> "dict[str, object]":
    from noodle.format.thresholds import load  # imported when a threshold is first asked for

    return load()


def _guarded(command: "Callable[[], None]") -> None:
    """Run a click command; a bug in Noodle itself is reported in one line, not as a traceback."""
    import os

    try:
        command()
    except Exception as e:  # click ends by SystemExit, which passes; this is anything unexpected
        if os.environ.get("NOODLE_TRACEBACK"):
            raise
        from noodle.errors import internal_error_text
        print(internal_error_text(e), file=sys.stderr)
        sys.exit(1)


def _noodle_cli() -> None:
    from pathlib import Path

    import click

    from noodle.tools import run as runmod

    @click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="noodle-lang", prog_name="noodle")
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        """Noodle: run programs, run their tests, inspect modules, or start the REPL."""
        if ctx.invoked_subcommand is None:
            from noodle.tools.repl import start_repl
            sys.exit(start_repl())

    @cli.command(context_settings={"allow_interspersed_args": False})
    @click.argument("file", required=False)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    @click.option("-O", "opt", type=click.IntRange(0, 2), default=1, help="optimisation level")
    @click.option("--color", type=click.Choice(["auto", "always", "never"]), default=None,
                  help="colour diagnostics and errors (default auto: on a terminal; FORCE_COLOR, NO_COLOR)")
    @click.option("--no-cache", is_flag=True, help="do not read or write __noodlecache__/")
    @click.option("--watch", is_flag=True, help="upgrade the running program live whenever FILE is saved")
    @click.option("--backend", type=click.Choice(["auto", "vm", "opencl"]), default=None,
                  help="auto (default): native code where it fits, OpenCL where `noodle tune` measured it "
                       "faster; vm: everything in the VM; opencl: every recognised loop on OpenCL wherever "
                       "a kernel can run it")
    @click.option("--mode", type=click.Choice(["optimized", "safe"]), default=None,
                  help="optimized (default): recognised loops may sum in another order (SIMD, BLAS); "
                       "safe: every loop adds in its own order, results identical to the VM's")
    @click.option("--ale-capture", is_flag=True,
                  help="keep a bounded sample of the inputs and outputs of calls into Python (for `noodle ale`)")
    @click.option("--require-signed", is_flag=True,
                  help="run only .nbc modules (and imports) signed by a key given with --trust")
    @click.option("--trust", "trusted", multiple=True, metavar="KEY.pub",
                  help="a public key (file or hex) whose signatures --require-signed accepts (repeatable)")
    @click.option("--cluster", metavar="ADDRESS", default=None,
                  help="run parallel.map on Dask: local:N starts N worker processes, tcp://HOST:PORT joins "
                       "a scheduler (default: $NOODLE_CLUSTER; else local cores only)")
    @click.option("--explain", is_flag=True, help="say where each parallel.map ran and why (NOODLE_PARALLEL_LOG=1)")
    def run(file: str | None, args: tuple[str, ...], opt: int, no_cache: bool, watch: bool,
            backend: str | None, mode: str | None, color: str | None, ale_capture: bool, require_signed: bool,
            trusted: tuple[str, ...], cluster: str | None, explain: bool) -> None:
        """Run FILE.nd (compiled on the fly, cached) or FILE.nbc; with no FILE, start the REPL.

        \b
        noodle [run] [OPTIONS] FILE [--] [ARGS...]
        Options go before FILE; everything after FILE is the program's (sys.args()),
        as with python and node. `noodle FILE.nd` is `noodle run FILE.nd`.
        """
        if file is None:
            from noodle.tools.repl import start_repl
            sys.exit(start_repl())
        options = {"-O": str(opt)}
        if trusted:
            options["--trust"] = "\n".join(trusted)
        for flag, on in (("--no-cache", no_cache), ("--watch", watch), ("--ale-capture", ale_capture),
                         ("--require-signed", require_signed), ("--explain", explain)):
            if on:
                options[flag] = "1"
        for name, value in (("--backend", backend), ("--mode", mode), ("--color", color), ("--cluster", cluster)):
            if value is not None:
                options[name] = value
        sys.exit(runmod.run_request(runmod.RunRequest(file, list(args), options)))

    @cli.command()
    @click.argument("name")
    def keygen(name: str) -> None:
        """Make an Ed25519 key pair for signing modules: NAME.key (private, mode 0600) and NAME.pub."""
        from noodle.format.signing import generate
        try:
            key, pub = generate(name)
        except FileExistsError:
            click.echo(f"error: {name}.key or {name}.pub exists already (keys are never overwritten)", err=True)
            sys.exit(1)
        except OSError as e:
            click.echo(f"error: cannot write the key: {e.strerror}", err=True)
            sys.exit(1)
        click.echo(f"private key: {key} (keep it secret: `noodlec FILE.nd --sign {key}`)")
        click.echo(f"public key:  {pub} (give it to hosts: `noodle run --require-signed --trust {pub}`)")

    @cli.command()
    @click.argument("paths", nargs=-1)
    @click.option("-k", "pattern", metavar="PATTERN", help="only tests whose FILE::name contains PATTERN")
    @click.option("--json", "as_json", is_flag=True, help="the report as JSON (schema 1)")
    @click.option("--junit", "junit", metavar="FILE", help="also write the report as JUnit XML to FILE")
    @click.option("-v", "--verbose", is_flag=True, help="show the Noodle stack of each failure")
    @click.option("--color", type=click.Choice(["auto", "always", "never"]), default=None,
                  help="colour the report (default auto: on a terminal; FORCE_COLOR, NO_COLOR)")
    def test(paths: tuple[str, ...], pattern: str | None, as_json: bool, junit: str | None, verbose: bool,
             color: str | None) -> None:
        """Run the `test` blocks of PATHS: files, or folders searched for .nd files with tests
        (default: the current folder)."""
        import os
        if color is not None:
            os.environ["NOODLE_COLOR"] = color
        from noodle.tools.testing import main as test_main
        sys.exit(test_main(list(paths), pattern, as_json, junit, verbose))

    @cli.command()
    @click.argument("file")
    def disasm(file: str) -> None:
        """Print the bytecode of a compiled module FILE.nbc (or of FILE.nd, compiled)."""
        from noodle.format.disasm import disassemble
        from noodle.format.module_file import LoadError
        from noodle.vm.verify import load_bytes

        try:
            if file.endswith(".nd"):
                from noodle.compiler.diagnostics import CompileError
                try:
                    mod = _compile(file, 1).module
                except CompileError as e:
                    from noodle.tools.render import print_compile_error
                    print_compile_error(e)
                    sys.exit(2)
            else:
                mod = load_bytes(Path(file).read_bytes(), file)
        except LoadError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except OSError as e:
            click.echo(f"error: {file}: {e.strerror}", err=True)
            sys.exit(1)
        click.echo(disassemble(mod), nl=False)

    @cli.command()
    @click.argument("files", nargs=-1, required=True)
    @click.option("--json", "as_json", is_flag=True,
                  help=f"one JSON object: schema ({CHECK_SCHEMA}), files, errors, warnings, diagnostics")
    @_warning_options
    def check(files: tuple[str, ...], as_json: bool, allow: tuple[str, ...], deny: tuple[str, ...]) -> None:
        """Type-check FILES and report errors and warnings; nothing is written or run."""
        sys.exit(check_files(list(files), as_json, allow, deny))

    @cli.command()
    @click.argument("address")
    @click.option("--nthreads", default=1, show_default=True, help="tasks run at once (VM code: keep 1 per process)")
    @click.option("--death-timeout", default=30, show_default=True,
                  help="seconds to wait for the scheduler before giving up")
    def worker(address: str, nthreads: int, death_timeout: int) -> None:
        """Start a Dask worker that can run Noodle tasks, joined to the scheduler at ADDRESS.

        Any Dask worker whose Python has Noodle installed can: the program's code reaches it
        when a program first maps there (verified .nbc bytes, see docs/parallel.md).
        """
        import os

        from noodle.parallel.cluster import ClusterError, parse_address

        try:
            _, n = parse_address(address)
        except ClusterError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        if n is not None:
            click.echo("error: a worker joins a scheduler: give its address, tcp://HOST:PORT", err=True)
            sys.exit(2)
        os.execv(sys.executable, [sys.executable, "-m", "distributed.cli.dask_worker", address,
                                  "--nthreads", str(nthreads), "--nworkers", "1",
                                  "--death-timeout", str(death_timeout), "--no-dashboard"])

    @cli.command()
    @click.argument("files", nargs=-1, required=True)
    @click.option("--check", is_flag=True, help="change nothing; list the files not in canonical layout (exit 1)")
    @click.option("--width", type=click.IntRange(min=0), default=None, metavar="N",
                  help="break lines longer than N columns where they can be broken (default 100; 0: never)")
    def fmt(files: tuple[str, ...], check: bool, width: int | None) -> None:
        """Rewrite FILES in Noodle's canonical layout (`-`: standard input to standard output)."""
        from noodle.tools.fmt import WIDTH, format_files
        sys.exit(format_files(list(files), check, width=WIDTH if width is None else width or None))

    @cli.command()
    def lsp() -> None:
        """Start the Noodle language server (LSP over standard input and output, for editors)."""
        from noodle.tools.lsp import serve
        sys.exit(serve())

    @cli.command()
    def repl() -> None:
        """Start the interactive REPL."""
        from noodle.tools.repl import start_repl
        sys.exit(start_repl())

    @cli.command()
    @click.option("--repeat", default=7, show_default=True, help="timed calls per size (medians)")
    @click.option("--show", is_flag=True, help="print the OpenCL measurements kept for this device, measure nothing")
    def tune(repeat: int, show: bool) -> None:
        """Measure this machine's variant thresholds (from what size each variant wins) and keep them."""
        from noodle.backends.llvm import available
        from noodle.format.thresholds import path
        from noodle.tools import tune_opencl
        from noodle.tools.tune import measure

        if show:
            tune_opencl.show(report=click.echo)
            return
        if not available():
            click.echo("error: native code is not available here (llvmlite is not installed): nothing to tune",
                       err=True)
            sys.exit(1)
        try:
            measure(repeat=max(1, repeat), report=click.echo)
            tune_opencl.measure(repeat=max(1, min(repeat, 3)), report=click.echo)
        except OSError as e:
            click.echo(f"error: {e}: the thresholds were measured but not kept (set NOODLE_CACHE_DIR "
                       "to a writable folder)", err=True)
            sys.exit(1)
        from noodle.backends.opencl.selection import path as opencl_path
        click.echo(f"kept in {path()} and {opencl_path()}")

    from noodle.tools.ale_cli import ale
    cli.add_command(ale)

    cli(prog_name="noodle")


def _compile(file: str, opt: int, use_cache: bool = False, allow: "tuple[str, ...]" = (),
             deny: "tuple[str, ...]" = (), project_out: "list | None" = None, observe_passes=None,
             offload: "frozenset[str] | None" = None, report: "list | None" = None):
    """Compile FILE (raises CompileError); `project_out` receives the Project (its warnings).
    `offload`: the intents given OpenCL dispatches (default: those offered here); `report`
    receives each recognised nest's OpenCL kernel or why it has none."""
    from pathlib import Path

    from noodle.backends.opencl.selection import offered
    from noodle.build.driver import CompileOptions, Project

    p = Path(file)
    offload = (offered() if opt >= 1 else frozenset()) if offload is None else offload
    project = Project(p.parent if str(p.parent) else Path("."),
                      CompileOptions(opt, use_cache, observe_passes, allow=frozenset(allow), deny=frozenset(deny),
                                     offload=offload, offload_report=report))
    if project_out is not None:
        project_out.append(project)
    return project.compile_file(p, display=file)


def _warning_options(command):  # noqa: ANN001, ANN202 - a click command
    import click

    command = click.option("-D", "--deny", "deny", multiple=True, metavar="CODE",
                           help="report warning CODE as an error (stops the build)")(command)
    return click.option("-A", "--allow", "allow", multiple=True, metavar="CODE",
                        help="do not report warning CODE (W0101; `all`: no warning)")(command)


def check_files(files: "list[str]", as_json: bool, allow: "tuple[str, ...]", deny: "tuple[str, ...]") -> int:
    """`noodle check FILE...`: type-check and lint, write nothing.  0: no error (warnings are fine),
    2: an error, 66: a file that cannot be opened."""
    import json
    import os

    from noodle.errors import CompileError
    from noodle.tools.render import print_diagnostics
    from noodle.tools.run import EXIT_NO_FILE

    status = 0
    report: list[dict] = []
    for file in files:
        if not os.path.isfile(file):
            if not as_json:
                sys.stderr.write(f"noodle check: cannot open {file}: no such file\n")
            report.append({"code": "E0400", "severity": "error", "message": f"cannot open {file}: no such file",
                           "file": file, "line": 0, "col": 0, "end_line": 0, "end_col": 0, "hint": None,
                           "notes": [], "related": []})
            status = max(status, EXIT_NO_FILE)
            continue
        projects: list = []
        try:
            _compile(file, 1, False, allow, deny, projects)
            diagnostics, sources = projects[0].warnings, projects[0].sources
        except CompileError as e:
            diagnostics = (projects[0].warnings if projects else []) + list(e.diagnostics)
            sources = dict(projects[0].sources if projects else {}, **e.sources)
            status = max(status, 2)
        report += [d.to_json() for d in diagnostics]
        if not as_json:
            print_diagnostics(diagnostics, sources)
    if as_json:
        errors = sum(d["severity"] == "error" for d in report)
        print(json.dumps({"schema": CHECK_SCHEMA, "files": files, "errors": errors,
                          "warnings": len(report) - errors, "diagnostics": report}, indent=2))
    return status


#: version of `noodle check --json`'s object (`schema`); raised when a field changes meaning or goes
CHECK_SCHEMA = 1


def _noodlec_cli() -> None:
    import json
    from pathlib import Path

    import click

    from noodle.compiler.diagnostics import CompileError

    @click.command(context_settings={"help_option_names": ["-h", "--help"]})
    @click.argument("file")
    @click.option("-o", "output", help="output .nbc path (default: FILE with .nbc)")
    @click.option("-O", "opt", type=click.IntRange(0, 2), default=1, help="optimisation level 0, 1 or 2")
    @click.option("--emit", type=click.Choice(["ast", "ir", "ir-passes", "bytecode", "llvm", "opencl"]),
                  help="print a stage instead of writing (ir-passes: the IR as lowered and after each pass; "
                       "opencl: the kernels of every recognised loop nest)")
    @click.option("--explain", is_flag=True, help="say, function by function, what runs natively and why not")
    @click.option("--json", "as_json", is_flag=True, help="diagnostics (errors and warnings) as a JSON list")
    @click.option("--color", type=click.Choice(["auto", "always", "never"]), default=None,
                  help="colour diagnostics (default auto: on a terminal; FORCE_COLOR, NO_COLOR)")
    @click.option("--sign", "sign_key", metavar="KEY.key", help="sign the module with this private key "
                  "(made by `noodle keygen`)")
    @_warning_options
    @click.version_option(package_name="noodle-lang", prog_name="noodlec")
    def noodlec(file: str, output: str | None, opt: int, emit: str | None, as_json: bool, explain: bool,
                color: str | None, sign_key: str | None, allow: tuple[str, ...], deny: tuple[str, ...]) -> None:
        """Compile FILE.nd to a .nbc module."""
        import os
        private = None
        if sign_key is not None:
            from noodle.format.signing import KeyError_, read_private
            try:
                private = read_private(sign_key)
            except KeyError_ as e:
                click.echo(f"error: {e}", err=True)
                sys.exit(1)
        if color is not None:
            os.environ["NOODLE_COLOR"] = color
        if not os.path.isfile(file):
            click.echo(f"noodlec: cannot open {file}: no such file", err=True)
            sys.exit(66)
        projects: list = []
        report: list = []  # per recognised nest: its OpenCL kernel or why none (for --explain)
        try:
            if emit == "ast":
                from noodle.build.driver import read_source
                from noodle.compiler.parser import parse
                import pprint
                tree = parse(read_source(Path(file), file), file)
                click.echo(pprint.pformat(tree, width=110, sort_dicts=False))
                return
            if emit == "ir-passes":
                from noodle.build.driver import PassTrace
                trace = PassTrace()
                _compile(file, opt, allow=("all",), observe_passes=trace)
                click.echo(trace.text(), nl=False)
                return
            if emit == "opencl":
                from noodle.ir.kernels import OFFLOADABLE
                compiled = _compile(file, max(opt, 1), False, allow, deny, projects, offload=frozenset(OFFLOADABLE))
            else:
                compiled = _compile(file, opt, False, allow, deny, projects, report=report)
        except CompileError as e:
            warnings = projects[0].warnings if projects else []
            if as_json:
                click.echo(json.dumps([d.to_json() for d in warnings + list(e.diagnostics)], indent=2))
            else:
                from noodle.tools.render import print_diagnostics
                print_diagnostics(warnings, projects[0].sources if projects else {})
                print_diagnostics(e.diagnostics, e.sources)
            sys.exit(2)
        warnings = projects[0].warnings
        if warnings and not as_json:
            from noodle.tools.render import print_diagnostics
            print_diagnostics(warnings, projects[0].sources)
        if emit == "ir":
            from noodle.ir.printer import print_module
            assert compiled.ir is not None
            click.echo(print_module(compiled.ir), nl=False)
            return
        if emit == "opencl":
            from noodle.tools.explain_opencl import emit_kernels
            assert compiled.ir is not None
            click.echo(emit_kernels(compiled.ir, file), nl=False)
            return
        if emit == "bytecode":
            from noodle.format.disasm import disassemble
            click.echo(disassemble(compiled.module), nl=False)
            return
        if emit == "llvm" or explain:
            from noodle.backends.llvm import available, decide, native_part
            from noodle.ir.native_plan import plan
            from noodle.ir.nodes import decode_module

            module_ir = decode_module(compiled.module.ir)
            if explain:
                # the loader's own decision: the plan less what the backend then fails to lower
                decision = decide(module_ir) if available() else None
                p = decision.plan if decision is not None else plan(module_ir)
                from noodle.ir.explain import explain_functions, explain_loops
                for line, text in explain_functions(module_ir, p, available()):
                    click.echo(f"{file}:{line}: {text}")
                for line, text in explain_loops(module_ir, p):
                    click.echo(f"{file}:{line}: {text}")
                if decision is not None:  # the vector math of `@vector_math` functions
                    from noodle.backends.llvm import vecmath
                    for line, text in vecmath.explain(module_ir, decision.llvm_ir, list(p.native)):
                        click.echo(f"{file}:{line}: {text}")
                from noodle.backends.opencl.selection import offered
                from noodle.tools.explain_opencl import explain_opencl
                for line, text in explain_opencl(report, offered() if opt >= 1 else frozenset()):
                    click.echo(f"{file}:{line}: {text}" if line else text)
                return
            part = native_part(compiled.module)
            click.echo(part[0] if part and part[0] else "; no function of this module runs natively (see --explain)")
            return
        from noodle.format.module_file import encode
        out = Path(output) if output else Path(file).with_suffix(".nbc")
        data = encode(compiled.module)
        if private is not None:
            from noodle.format.signing import sign
            data = sign(data, private)
        try:
            out.write_bytes(data)
        except OSError as e:
            click.echo(f"error: cannot write {out}: {e.strerror}", err=True)
            sys.exit(1)
        if as_json:
            click.echo(json.dumps([d.to_json() for d in warnings], indent=2))

    noodlec(prog_name="noodlec")
