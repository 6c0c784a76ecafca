"""The one family of errors Noodle raises to its users and hosts.

    NoodleError
    ├── CompileError        the program does not compile (carries every Diagnostic)
    ├── LoadError           a module file is foreign, truncated, corrupted or fails verification
    ├── NoodleRuntimeError  an uncaught Noodle error, with the Noodle stack (noodle.runtime.errors)
    ├── LimitExceeded       a call ran past a limit of its VM (steps, seconds, memory, depth)
    ├── ProgramExit         Noodle code called `exit(code)`
    └── UpgradeRejected     a live upgrade or rollback was refused; nothing changed

Kept import-light (no compiler, no VM) so that any entry point can catch them
without paying for the modules that raise them.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any


class NoodleError(Exception):
    """Base of every error Noodle raises to a host."""


class CompileError(NoodleError):
    """Raised when a program does not compile; carries every diagnostic."""

    def __init__(self, diagnostics: list[Any], sources: dict[str, str] | None = None) -> None:
        self.diagnostics = diagnostics
        self.sources = sources or {}
        super().__init__(diagnostics[0].message if diagnostics else "compile error")

    def render(self) -> str:
        """Every diagnostic as text: `FILE:LINE:COL: error[CODE]: message`, the line, a caret, hints."""
        parts = []
        for d in self.diagnostics:
            src = self.sources.get(d.span.file)
            parts.append(d.render(src.splitlines() if src is not None else None, self.sources))
        return "\n".join(parts)

    def __str__(self) -> str:
        """The rendered diagnostics (what `noodlec` prints), so an embedder's log says where and why."""
        return self.render() if self.diagnostics else "compile error"

    def to_json(self) -> str:
        import json

        return json.dumps([d.to_json() for d in self.diagnostics], indent=2)


class LoadError(NoodleError):
    """A module file that cannot be loaded: one line saying why."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.reason = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class LimitExceeded(NoodleError):
    """A call ran past one of its VM's limits (steps, seconds, memory, depth); the VM stays usable."""

    def __init__(self, limit: str, message: str, stack: "list | None" = None) -> None:
        self.limit = limit  # "steps" | "seconds" | "memory" | "depth"
        self.stack = stack or []
        super().__init__(message)


class ProgramExit(NoodleError):
    """Noodle code called `exit(code)`: the program (or the host call) ends with that status."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"the program called exit({code})")


class UpgradeRejected(NoodleError):
    """A live upgrade (or rollback) that was refused; nothing changed.  `reason` says why."""

    def __init__(self, module: str, reason: str) -> None:
        self.module = module
        self.reason = reason
        super().__init__(f"upgrade of {module} rejected: {reason}")


def internal_error_text(exc: BaseException) -> str:
    """What a command prints for a bug in Noodle itself, instead of a Python traceback."""
    return (f"internal error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in Noodle, not in your program; set NOODLE_TRACEBACK=1 to see where it happened")
