"""Starting the Python world's services the first time a program imports a Python module.

The tool that runs a program (`noodle run`) installs a :data:`STARTER`: the usage log and the
replacements of library evolution are set up only when the program actually reaches `import py`,
so programs that never touch Python pay nothing for them.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time (`noodle run` imports this module)
    from typing import Callable

#: called once, at the first `import py` of the process
STARTER: "Callable[[], None] | None" = None
_started = False


def ensure_started() -> None:
    global _started
    if not _started:
        _started = True
        if STARTER is not None:
            STARTER()


def install(starter: "Callable[[], None] | None") -> None:
    """Set what the first `import py` starts (None: nothing); forgets an earlier start."""
    global STARTER, _started
    STARTER = starter
    _started = False
