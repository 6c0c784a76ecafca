"""Room for the compiler's recursion on long operator chains.

The front end, the checker, the IR passes and the native lowering recurse over expression trees.
A flat chain `a + b + ... + z` is, to them, a tree as deep as it has terms (Lark builds it
left-associative), though to the user it is not nested at all; `parse` lets such chains through
and says how long the longest is (`ast.Module.deepest`).  :func:`call_deep` runs the rest of a
compile with room for that many frames: in the calling thread when the tree is no deeper than
INLINE_LEVELS and the recursion limit already has room, else in a thread of its own with a large C stack and, while it runs, a higher recursion
limit (the limit is the interpreter's, so it is put back as soon as the work ends).
"""
from __future__ import annotations

import sys
import threading
from typing import Callable, TypeVar

T = TypeVar("T")

__all__ = ["call_deep", "FRAMES_PER_LEVEL"]

#: Python frames a pass may spend per level of an expression tree (the checker's `expr` ->
#: `expr_Binary` -> `expr`, the lowering's `expr` -> `binary`, with room to spare)
FRAMES_PER_LEVEL = 8
#: frames the compile needs besides the chain (driver, checker, passes, a margin)
BASE_FRAMES = 2_000
#: deeper trees always get the thread's stack: the calling thread's C stack (8 MiB for the main
#: thread) may not hold the frames a high recursion limit lets through where C code recurses
INLINE_LEVELS = 300
#: C stack given per frame in the deep thread (only a frame entered from C code uses it; the
#: rest is reserved address space, not memory)
_STACK_PER_FRAME = 4 * 1024
_MIN_STACK = 64 * 1024 * 1024
_MAX_STACK = 1024 * 1024 * 1024
_START_LOCK = threading.Lock()


def call_deep(fn: Callable[[], T], levels: int) -> T:
    """`fn()`, with room for `levels` levels of recursion over an expression tree.

    Exceptions from `fn` propagate unchanged to the caller.
    """
    frames = BASE_FRAMES + levels * FRAMES_PER_LEVEL
    if levels <= INLINE_LEVELS and frames <= sys.getrecursionlimit():
        return fn()
    result: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            result.append(fn())
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread as it is
            failure.append(e)

    size = min(_MAX_STACK, max(_MIN_STACK, frames * _STACK_PER_FRAME))
    # the limit is raised before the thread starts and put back after it ends; `fn` may compile an
    # imported module and come here again (nested: raised and put back last in, first out)
    old_limit = sys.getrecursionlimit()
    raised = max(old_limit, frames)
    sys.setrecursionlimit(raised)
    try:
        with _START_LOCK:  # the stack size is the process's setting for the next thread started
            old_size = threading.stack_size()
            threading.stack_size(size)
            try:
                worker = threading.Thread(target=body, name="noodle-deep", daemon=True)
                worker.start()
            finally:
                threading.stack_size(old_size)
        worker.join()
    finally:
        if sys.getrecursionlimit() == raised:
            sys.setrecursionlimit(old_limit)
    if failure:
        raise failure[0]
    return result[0]
