"""The IR verifier, run between passes in debug runs (`NOODLE_VERIFY_IR=1`) and by the tests.

It checks what every later stage relies on: local slots exist, `break` and
`continue` sit inside loops, and every node is a known IR kind.
"""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.walk import _SHAPE, walk


class IRError(Exception):
    """A compiler bug: a pass produced malformed IR."""


def verify_function(f: ir.Function) -> None:
    nlocals = len(f.local_names)
    if len(f.local_types) != nlocals or f.params > nlocals:
        raise IRError(f"{f.name}: locals and their types disagree")
    _body(f, f.body, nlocals, in_loop=False)


def _body(f: ir.Function, body: list[ir.Stmt], nlocals: int, in_loop: bool) -> None:
    for s in body:
        if type(s) not in _SHAPE:
            raise IRError(f"{f.name}: unknown node {type(s).__name__}")
        if isinstance(s, (ir.Break, ir.Continue)) and not in_loop:
            raise IRError(f"{f.name}:{s.line}: {type(s).__name__.lower()} outside a loop")
        if isinstance(s, (ir.LocalSet, ir.ForRange, ir.ForEach)) and not 0 <= s.slot < nlocals:
            raise IRError(f"{f.name}:{s.line}: slot {s.slot} out of range")
        for node in walk(s):
            if isinstance(node, ir.LocalGet) and not 0 <= node.slot < nlocals:
                raise IRError(f"{f.name}:{node.line}: slot {node.slot} out of range")
        if isinstance(s, ir.If):
            _body(f, s.then, nlocals, in_loop)
            _body(f, s.otherwise, nlocals, in_loop)
        elif isinstance(s, (ir.While, ir.ForRange, ir.ForEach)):
            _body(f, s.body, nlocals, True)
        elif isinstance(s, ir.TryCatch):
            _body(f, s.body, nlocals, in_loop)
            _body(f, s.handler, nlocals, in_loop)


def verify_module(m: ir.Module) -> None:
    """Verify every function of a module (after each pass in debug runs)."""
    for f in m.functions:
        verify_function(f)
