"""The interactive REPL on a terminal (prompt_toolkit): editing, colour, completion, indentation.

Enter runs the entry when the parser says it is complete (see
:func:`noodle.tools.repl.entry.is_complete`), and otherwise opens a new line
indented one level deeper after `{`, `(` or `[`.  An entry ending in an `if`
block waits for one more line, which may start with `else`; an empty line
runs it.  Escape then Enter always inserts a newline.  A pasted block is
edited as one entry.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.styles import Style

from noodle.tools.repl.complete import completions
from noodle.tools.repl.entry import is_complete, may_continue
from noodle.tools.repl.highlight import token_classes

INDENT = "    "

STYLE = Style.from_dict({
    "keyword": "bold ansiblue",
    "number": "ansicyan",
    "string": "ansigreen",
    "comment": "italic ansibrightblack",
    "builtin": "ansimagenta",
    "error": "ansired",
    "prompt": "bold",
    "continuation": "ansibrightblack",
})


class NoodleLexer(Lexer):
    """Colours the whole entry with the language's lexer, then hands prompt_toolkit one line at a time."""

    def lex_document(self, document: Document) -> Callable[[int], list[tuple[str, str]]]:
        text = document.text
        styles = [""] * len(text)
        for start, end, cls in token_classes(text):
            if cls in ("name", "operator"):
                continue
            for i in range(start, min(end, len(text))):
                if text[i] != "\n":
                    styles[i] = f"class:{cls}"
        lines: list[list[tuple[str, str]]] = []
        pos = 0
        for line in document.lines:
            fragments: list[tuple[str, str]] = []
            for i, ch in enumerate(line):
                style = styles[pos + i]
                if fragments and fragments[-1][0] == style:
                    fragments[-1] = (style, fragments[-1][1] + ch)
                else:
                    fragments.append((style, ch))
            lines.append(fragments)
            pos += len(line) + 1
        return lambda n: lines[n] if n < len(lines) else []


class NoodleCompleter(Completer):
    def __init__(self, session: Any) -> None:
        self.session = session

    def get_completions(self, document: Document, complete_event: Any):  # noqa: ANN201
        try:
            length, names = completions(self.session, document.text_before_cursor)
        except Exception:  # noqa: BLE001 - a completion must never break typing
            return
        for name in names:
            yield Completion(name, start_position=-length)


def next_indent(text_before: str) -> str:
    """The indentation of a new line: the current line's, one level deeper after an opening bracket."""
    line = text_before.rsplit("\n", 1)[-1]
    indent = line[: len(line) - len(line.lstrip())]
    stripped = line.rstrip()
    if stripped.endswith(("{", "(", "[")):
        indent += INDENT
    return indent


def enter_runs(text: str) -> bool:
    """Does Enter at the end of `text` run it (rather than open a new line)?"""
    if not is_complete(text):
        return False
    if may_continue(text) and text.rsplit("\n", 1)[-1].strip():
        return False  # `if ... { }`: the next line may be `else`; an empty line runs it
    return True


def key_bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter")
    def _(event: Any) -> None:
        buf = event.current_buffer
        if buf.complete_state is not None and buf.complete_state.current_completion is not None:
            buf.apply_completion(buf.complete_state.current_completion)
            return
        doc = buf.document
        if doc.is_cursor_at_the_end and enter_runs(doc.text):
            buf.validate_and_handle()
            return
        buf.insert_text("\n" + next_indent(doc.text_before_cursor))

    @kb.add("escape", "enter")
    def _(event: Any) -> None:
        event.current_buffer.insert_text("\n" + next_indent(event.current_buffer.document.text_before_cursor))

    @kb.add("}")
    def _(event: Any) -> None:
        buf = event.current_buffer
        line = buf.document.current_line_before_cursor
        if line.strip() == "" and line.endswith(INDENT):
            buf.delete_before_cursor(len(INDENT))  # a closing brace goes back one level
        buf.insert_text("}")

    return kb


def prompt_session(session: Any, **kwargs: Any) -> Any:
    """A prompt_toolkit PromptSession set up for Noodle (kwargs: input/output for tests)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    history: Any
    if "history" in kwargs:
        history = kwargs.pop("history")
    else:
        history_path = Path(os.environ.get("NOODLE_HISTORY", Path.home() / ".noodle_history"))
        try:
            history_path.touch(exist_ok=True)
            history = FileHistory(str(history_path))
        except OSError:
            history = InMemoryHistory()

    def continuation(width: int, line_number: int, wrap_count: int) -> list[tuple[str, str]]:
        return [("class:continuation", "...".rjust(width - 1) + " ")]

    return PromptSession(
        message=[("class:prompt", "noodle> ")], multiline=True, prompt_continuation=continuation,
        lexer=NoodleLexer(), completer=NoodleCompleter(session), complete_while_typing=False,
        key_bindings=key_bindings(), style=STYLE, history=history, include_default_pygments_style=False,
        **kwargs)


def interactive(session: Any, handle: Callable[[Any, str], bool], **kwargs: Any) -> int:
    prompt = prompt_session(session, **kwargs)
    print("Noodle REPL — :help for help, :quit to leave")
    while True:
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the entry
        except EOFError:
            return 0
        if not handle(session, text):
            return 0
