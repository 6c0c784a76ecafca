"""Diagnostics and run-time errors on a terminal: coloured with rich when stderr is one.

Plain text otherwise (pipes, files, CI, `NO_COLOR`), so tools and tests read
the same `FILE:LINE:COL: error[CODE]: message` lines either way.  rich is
imported only when there is something to colour, which keeps it off the
start-up path of `noodle run`.
"""
from __future__ import annotations

import os
import sys


def colour(stream) -> bool:  # noqa: ANN001 - any text stream
    """Colour this stream?  `--color always|never` (NOODLE_COLOR) first, then FORCE_COLOR and
    NO_COLOR (https://force-color.org, https://no-color.org), then: is it a terminal."""
    choice = os.environ.get("NOODLE_COLOR", "auto")
    if choice in ("always", "never"):
        return choice == "always"
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_colour = colour


def _console(stream):  # noqa: ANN001, ANN202
    """A rich Console that colours: whether to was decided by :func:`colour` (FORCE_COLOR wins over
    NO_COLOR and a dumb or absent terminal)."""
    from rich.console import Console

    return Console(file=stream, highlight=False, soft_wrap=True, force_terminal=True, no_color=False,
                   color_system="standard")


def print_compile_error(error, stream=None) -> None:  # noqa: ANN001
    """Every diagnostic of a CompileError: location, message, source line, caret, notes, hint."""
    print_diagnostics(error.diagnostics, error.sources, stream)


def print_diagnostics(diagnostics, sources, stream=None) -> None:  # noqa: ANN001
    """Diagnostics (errors or warnings) as `noodlec` shows them; coloured on a terminal."""
    stream = stream or sys.stderr
    if not _colour(stream):
        for d in diagnostics:
            src = sources.get(d.span.file)
            stream.write(d.render(src.splitlines() if src is not None else None, sources) + "\n")
        return
    from rich.console import Console
    from rich.markup import escape

    from noodle.compiler.diagnostics import source_excerpt

    console = _console(stream)

    def excerpt(span, colour: str) -> None:  # noqa: ANN001
        src = sources.get(span.file)
        lines = source_excerpt(span, src.splitlines() if src is not None else None)
        if lines:
            gutter, _, text = lines[0].partition("| ")
            console.print(f"[dim]{escape(gutter)}| [/dim]{escape(text)}")
            console.print(f"[bold {colour}]{escape(lines[1])}[/]")

    for d in diagnostics:
        colour = "red" if d.severity == "error" else "yellow"
        console.print(f"[bold]{escape(str(d.span))}:[/bold] [bold {colour}]{d.severity}[{d.code}][/bold {colour}]: "
                      f"[bold]{escape(d.message)}[/bold]")
        excerpt(d.span, colour)
        for note in d.notes:
            console.print(f"  [blue]note:[/blue] {escape(note)}")
        for span, text in d.related:
            console.print(f"  [blue]note:[/blue] {escape(text)} ({escape(str(span))})")
            excerpt(span, "blue")
        if d.hint:
            console.print(f"  [cyan]hint:[/cyan] {escape(d.hint)}")


def print_runtime_error(error, stream=None) -> None:  # noqa: ANN001
    """An uncaught Noodle error: `KIND: message` and the Noodle stack, innermost last."""
    stream = stream or sys.stderr
    text = error.render()
    if not _colour(stream):
        stream.write(text + "\n")
        return
    from rich.console import Console
    from rich.markup import escape

    console = _console(stream)
    first, *rest = text.splitlines()
    console.print(f"[bold red]{escape(first)}[/bold red]")
    for line in rest:
        console.print(f"[dim]{escape(line)}[/dim]")
