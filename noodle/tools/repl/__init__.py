"""`noodle repl`: the interactive read-eval-print loop.

- :mod:`.session`: the persistent session (entries run once, state lives on);
- :mod:`.entry`: completeness by the parser, what an entry declares;
- :mod:`.placeholder`: stand-in initialisers for the session's variables;
- :mod:`.complete`, :mod:`.highlight`, :mod:`.terminal`: completion, colour and
  the prompt_toolkit front end.  Piped stdin is read line by line.
"""
from __future__ import annotations

import sys

from noodle.tools.repl.entry import is_complete, may_continue
from noodle.tools.repl.session import Session

__all__ = ["Session", "start_repl", "handle", "is_complete"]

HELP = """\
Enter statements, declarations and expressions; an expression's value is echoed.
Each entry runs once; definitions and variables live on (a new `fn f` or
`struct S` replaces the old one). Enter on an unfinished entry opens a new line;
Escape then Enter always does. Tab completes names, fields, methods and modules.
  :type EXPR   show the static type of an expression
  :reset       start a fresh session
  :help        this text
  :quit        leave (also Ctrl-D)
Ctrl-C interrupts a running entry (the session stays) or clears the one being typed.
"""


def handle(session: Session, entry: str) -> bool:
    """Process one complete entry; False when the user asked to quit."""
    stripped = entry.strip()
    if stripped in (":quit", ":q", ":exit"):
        return False
    if stripped in (":help", ":h"):
        sys.stdout.write(HELP)
    elif stripped == ":reset":
        session.__init__(session.root)  # type: ignore[misc]
    elif stripped.startswith(":type"):
        expr = stripped[len(":type"):].strip()
        print(session.type_of(expr) if expr else "usage: :type EXPR")
    elif stripped.startswith(":"):
        print(f"unknown command {stripped.split()[0]!r}; try :help")
    else:
        from noodle.errors import ProgramExit
        try:
            session.evaluate(entry)
        except ProgramExit as e:  # `exit(code)` leaves the REPL with that status
            sys.stdout.flush()
            raise SystemExit(e.code) from None
    sys.stdout.flush()
    return True


def start_repl() -> int:
    session = Session()
    if not sys.stdin.isatty():
        return piped(session)
    from noodle.tools.repl.terminal import interactive
    return interactive(session, handle)


def piped(session: Session, stream=None) -> int:  # noqa: ANN001 - a text stream
    """Entries from a pipe: lines gather until the parser says the entry is complete.

    Lines are read one at a time (no read-ahead), so a program's `input()`
    reads the lines that follow its entry.
    """
    stream = stream or sys.stdin
    buffer = ""
    while True:
        try:
            line = stream.readline()
        except KeyboardInterrupt:
            return 130
        if not line:
            break
        if buffer and may_continue(buffer) and is_complete(buffer) and not line.lstrip().startswith(("else", "catch")):
            if not handle(session, buffer):
                return 0
            buffer = ""
        buffer += line
        if is_complete(buffer) and not (buffer.strip() and may_continue(buffer)):
            if not handle(session, buffer):
                return 0
            buffer = ""
    if buffer.strip():
        handle(session, buffer)
    return 0
