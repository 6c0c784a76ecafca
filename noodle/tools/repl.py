"""`noodle repl`: the interactive read-eval-print loop.

Model: a session is the program made of every entry accepted so far.  Each
new entry is compiled together with the earlier ones (so definitions,
imports and variables persist with their static types), and the program is
re-run with the output of the earlier entries suppressed; only the new
entry's output is shown.  An entry that fails to compile or throws is not
kept.  This replay model is simple and exact for deterministic programs; its
costs are that each entry re-runs the session so far and that side effects
of earlier entries (files written, time, random numbers) happen again.  A
persistent-namespace REPL belongs with the hot-reload work, which needs the
same machinery.

Interactive use runs on prompt_toolkit (multi-line input while braces are
open, history kept in ~/.noodle_history); piped stdin is read line by line.
"""
from __future__ import annotations

import io
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HELP = """\
Enter statements and declarations; an expression's value is echoed.
An open brace continues the entry on the next line.
  :type EXPR   show the static type of an expression
  :help        this text
  :quit        leave (also Ctrl-D)
"""

ECHO = "__it"


@dataclass
class Session:
    entries: list[str] = field(default_factory=list)
    marker: str = field(default_factory=lambda: f"--noodle-repl-{uuid.uuid4().hex}--")

    def program(self, entry: str) -> tuple[str, int]:
        """Source of the whole session plus `entry`, and the line where `entry` starts."""
        head = "\n".join(self.entries)
        head += ("\n" if head else "") + f'print("{self.marker}")\n'
        return head + entry + "\n", head.count("\n") + 1

    def evaluate(self, entry: str, out=None, err=None) -> bool:
        """Compile and run `entry` in the session; print its output, value or errors. True if kept."""
        out = out or sys.stdout
        err = err or sys.stderr
        entry = entry.strip("\n")
        if not entry.strip():
            return True
        form = self.echo_form(entry)
        text, first_line = self.program(form)
        result = run_source(text)
        if result.compile_error is not None and form != entry:
            text, first_line = self.program(entry)
            result = run_source(text)
        if result.compile_error is not None:
            err.write(render_entry_diagnostics(result.compile_error, first_line) + "\n")
            return False
        out.write(result.stdout.split(self.marker + "\n", 1)[-1])
        if result.runtime_error is not None:
            err.write(result.runtime_error + "\n")
            return False
        if result.echo is not None:
            out.write(result.echo + "\n")
        self.entries.append(entry)
        return True

    def echo_form(self, entry: str) -> str:
        """An entry that is a single expression is bound to `__it` so its value can be echoed."""
        from noodle.compiler import ast
        from noodle.compiler.parser import parse
        from noodle.errors import CompileError

        try:
            tree = parse(entry, "<repl>")
        except CompileError:
            return entry
        if len(tree.items) == 1 and isinstance(tree.items[0], ast.ExprStmt):
            return f"let {ECHO} = {entry}"
        return entry

    def type_of(self, expr: str) -> str:
        from noodle.build.driver import compile_source
        from noodle.errors import CompileError
        from noodle.ir.types import resolve

        text, first_line = self.program(f"let {ECHO} = {expr}")
        try:
            module_ir, _ = compile_source(text, "<repl>", "repl")
        except CompileError as e:
            return render_entry_diagnostics(e, first_line)
        for g in module_ir.globals:
            if g.name == ECHO:
                return str(resolve(g.ty))
        return "none"


@dataclass
class RunResult:
    stdout: str = ""
    compile_error: object = None
    runtime_error: str | None = None
    echo: str | None = None


def run_source(text: str) -> RunResult:
    from noodle.build.driver import compile_source
    from noodle.errors import CompileError, LoadError
    from noodle.runtime.errors import NoodleRuntimeError
    from noodle.vm.machine import Machine
    from noodle.runtime.values import nd_repr

    result = RunResult()
    try:
        _, module = compile_source(text, "<repl>", "repl")
    except CompileError as e:
        result.compile_error = e
        return result
    buf = io.StringIO()
    saved = sys.stdout
    sys.stdout = buf
    try:
        machine = Machine(None)
        lm = machine.load(module)
        machine.run_main(lm)
        for i, g in enumerate(module.globals):
            if g.name == ECHO and g.type != "none":
                result.echo = nd_repr(lm.namespace.get(f"g{i}"))
    except NoodleRuntimeError as e:
        result.runtime_error = e.render()
    except LoadError as e:
        result.runtime_error = f"error: {e}"
    finally:
        sys.stdout = saved
    result.stdout = buf.getvalue()
    return result


def render_entry_diagnostics(error, first_line: int) -> str:
    """Diagnostics of a session program, with lines counted from the start of the entry."""
    lines = []
    for d in error.diagnostics:
        line = d.span.line - first_line + 1
        lines.append(f"<repl>:{max(line, 1)}:{d.span.col}: error[{d.code}]: {d.message}")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    return "\n".join(lines)


def brace_depth(text: str) -> int:
    """Open braces/brackets/parens outside strings and comments (an entry continues while > 0)."""
    depth = 0
    in_str = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_str:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "/" and text[i:i + 2] == "//" and (i == 0 or text[i - 1] in " \t\n"):
            nl = text.find("\n", i)
            if nl < 0:
                break
            i = nl
        elif ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        i += 1
    return depth


def handle(session: Session, entry: str) -> bool:
    """Process one complete entry; False when the user asked to quit."""
    stripped = entry.strip()
    if stripped in (":quit", ":q", ":exit"):
        return False
    if stripped in (":help", ":h"):
        sys.stdout.write(HELP)
    elif stripped.startswith(":type"):
        expr = stripped[len(":type"):].strip()
        print(session.type_of(expr) if expr else "usage: :type EXPR")
    elif stripped.startswith(":"):
        print(f"unknown command {stripped.split()[0]!r}; try :help")
    else:
        session.evaluate(entry)
    sys.stdout.flush()
    return True


def start_repl() -> int:
    session = Session()
    if not sys.stdin.isatty():
        return _piped(session)
    return _interactive(session)


def _piped(session: Session) -> int:
    buffer = ""
    for line in sys.stdin:
        buffer += line
        if brace_depth(buffer) > 0:
            continue
        if not handle(session, buffer):
            return 0
        buffer = ""
    if buffer.strip():
        handle(session, buffer)
    return 0


def _interactive(session: Session) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    history_path = Path(os.environ.get("NOODLE_HISTORY", Path.home() / ".noodle_history"))
    try:
        history = FileHistory(str(history_path))
        history_path.touch(exist_ok=True)
    except OSError:
        history = InMemoryHistory()
    prompt = PromptSession(history=history)
    print("Noodle REPL — :help for help, :quit to leave")
    while True:
        try:
            text = prompt.prompt("noodle> ")
            while brace_depth(text) > 0:
                text += "\n" + prompt.prompt("   ...> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        if not handle(session, text):
            return 0
