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


def print_compile_error(error, stream=None) -> None:  # noqa: ANN001
    """Every diagnostic of a CompileError: location, message, source line, caret, hint."""
    stream = stream or sys.stderr
    if not _colour(stream):
        stream.write(error.render() + "\n")
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console(file=stream, highlight=False, soft_wrap=True)
    for d in error.diagnostics:
        console.print(f"[bold]{escape(str(d.span))}:[/bold] [bold red]error[{d.code}][/bold red]: "
                      f"[bold]{escape(d.message)}[/bold]")
        src = error.sources.get(d.span.file)
        lines = src.splitlines() if src is not None else []
        if 1 <= d.span.line <= len(lines):
            text = lines[d.span.line - 1].expandtabs(4)
            width = d.span.end_col - d.span.col if d.span.end_line == d.span.line and d.span.end_col > d.span.col else 1
            gutter = f"{d.span.line:>4} | "
            console.print(f"[dim]{gutter}[/dim]{escape(text)}")
            console.print(" " * (len(gutter) + max(d.span.col - 1, 0)) + "[bold red]" + "^" * max(width, 1) + "[/]")
        for note in d.notes:
            console.print(f"  [blue]note:[/blue] {escape(note)}")
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

    console = Console(file=stream, highlight=False, soft_wrap=True)
    first, *rest = text.splitlines()
    console.print(f"[bold red]{escape(first)}[/bold red]")
    for line in rest:
        console.print(f"[dim]{escape(line)}[/dim]")
