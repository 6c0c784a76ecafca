"""The program's state a task needs besides its elements: module globals and struct classes.

A worker never runs a module's top-level code (a program without `main` is all top-level code, and
a `print` there would print once per worker): it loads the modules uninitialised and, for each
task, takes the globals' values the program held when the map began (:func:`snapshot`, restored by
:func:`restore`).  A task's own changes to globals stay in that task, as they would in another
process anyway; the program does not see them.
"""
from __future__ import annotations

from typing import Any, Callable

from noodle.parallel.wire import Share, decode_values, encode_values


def struct_classes(machine: Any) -> dict[tuple[str, str], type]:
    """(module, struct name) -> this machine's class: how a struct arriving from elsewhere is rebuilt."""
    classes: dict[tuple[str, str], type] = {}
    for lm in machine.modules.values():
        for i, (sname, _, _) in enumerate(lm.image.structs):
            classes[(lm.name, sname)] = lm.namespace[f"S{i}"]
    return classes


def snapshot(machine: Any, modules: list[str], share: Share | None = None) -> bytes:
    """The globals of `modules` as they are now (only those already set), as travelling bytes.

    Raises TypeError naming the global when one holds a value that cannot travel."""
    state: list[Any] = []
    for name in modules:
        lm = machine.modules[name]
        slots = [[i, lm.namespace[f"g{i}"]] for i in range(len(lm.image.globals)) if f"g{i}" in lm.namespace]
        if slots:
            state.append([name, slots])
    try:
        return encode_values(state, share)
    except TypeError as e:
        for name, slots in state:  # name the global that cannot travel
            for i, value in slots:
                try:
                    encode_values(value)
                except TypeError:
                    gname = machine.modules[name].image.globals[i][0]
                    raise TypeError(f"global {gname!r} of module {name!r} holds a value that cannot travel "
                                    f"({e})") from None
        raise


def restore(machine: Any, data: bytes, classes: dict[tuple[str, str], type],
            shared: Callable[[int], Any] | None = None) -> None:
    """Set the globals `snapshot` recorded in this machine's modules."""
    if not data:
        return
    for name, slots in decode_values(data, lambda m, s: classes[(m, s)], shared):
        ns = machine.modules[name].namespace
        for i, value in slots:
            ns[f"g{i}"] = value
