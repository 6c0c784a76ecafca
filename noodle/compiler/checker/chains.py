"""Long `else if` chains, made flat.

A chain `if a {..} else if b {..} else if c {..} else {..}` nests: each `else if` is an `if` inside
the `else` before it, one more region in the bytecode and one more indentation level in the VM's
translation to Python.  The verifier's MAX_NESTING bounds that depth, so a plain dispatch of sixty
branches (an interpreter's opcodes, a tokenizer's characters) would be refused as "nested too
deeply".  A chain of more than FLAT_FROM links is therefore written as a row of `if`s guarded by a
hidden flag, with the same meaning:

    taken = false
    if a { taken = true; .. }
    if not taken and b { taken = true; .. }
    if not taken and c { taken = true; .. }
    if not taken { .. }                        # the final `else`

Each condition is still evaluated only when every one before it was false (`and` short-circuits),
and at most one branch runs.  When every branch leaves (`return`, `throw`: a dispatch), no flag is
needed: reaching a link means each condition before it was false, so the row is the plain `if`s
with the final `else` after them, and the function still visibly ends on every path.

Shorter chains keep their shape: the intent passes and the `ranges` pass read an `else` as "the
condition was false", which a flagged row of `if`s does not say.
"""
from __future__ import annotations

from typing import Callable

from noodle.ir import nodes as ir
from noodle.ir.types import BOOL, Type

#: the longest chain (in `if`s) kept as written; a longer one is made flat
FLAT_FROM = 16


def flatten_chains(body: list[ir.Stmt], temp: Callable[[Type], int],
                   always_exits: Callable[[list[ir.Stmt]], bool]) -> list[ir.Stmt]:
    """`body` with every `else if` chain longer than FLAT_FROM made flat, at any depth.

    `temp(ty)` gives a fresh hidden local slot, set more than once (one per flattened chain);
    `always_exits(stmts)` says whether a statement list leaves the function on every path (the
    checker's own rule)."""
    out: list[ir.Stmt] = []
    for s in body:
        if isinstance(s, ir.If):
            links, last = _chain(s)
            if len(links) > FLAT_FROM:
                out += _flat(links, flatten_chains(last, temp, always_exits), temp, always_exits)
                continue
            s.then = flatten_chains(s.then, temp, always_exits)
            s.otherwise = flatten_chains(s.otherwise, temp, always_exits)
        elif isinstance(s, (ir.While, ir.ForRange, ir.ForEach)):
            s.body = flatten_chains(s.body, temp, always_exits)
        elif isinstance(s, ir.TryCatch):
            s.body = flatten_chains(s.body, temp, always_exits)
            s.handler = flatten_chains(s.handler, temp, always_exits)
        out.append(s)
    return out


def _chain(s: ir.If) -> tuple[list[ir.If], list[ir.Stmt]]:
    """The `if`s of the chain that starts at `s`, and the final `else` (empty when there is none)."""
    links = [s]
    while len(links[-1].otherwise) == 1 and isinstance(links[-1].otherwise[0], ir.If) \
            and not links[-1].otherwise[0].intent:
        links.append(links[-1].otherwise[0])
    return links, links[-1].otherwise


def _flat(links: list[ir.If], last: list[ir.Stmt], temp: Callable[[Type], int],
          always_exits: Callable[[list[ir.Stmt]], bool]) -> list[ir.Stmt]:
    branches = [flatten_chains(link.then, temp, always_exits) for link in links]
    if all(always_exits(b) for b in branches):
        # each branch leaves, so reaching a link means every condition before it was false
        return [ir.If(cond=link.cond, then=b, otherwise=[], line=link.line, col=link.col)
                for link, b in zip(links, branches)] + last
    slot = temp(BOOL)

    def flag(at: ir.Node) -> ir.Expr:
        return ir.LocalGet(slot=slot, ty=BOOL, line=at.line, col=at.col)

    def taken(value: bool, at: ir.Node) -> ir.Stmt:
        return ir.LocalSet(slot=slot, value=ir.Const(value=value, ty=BOOL, line=at.line, col=at.col),
                           line=at.line, col=at.col)

    def not_taken(at: ir.Node) -> ir.Expr:
        return ir.Unary(op="not", x=flag(at), ty=BOOL, line=at.line, col=at.col)

    row: list[ir.Stmt] = [taken(False, links[0])]
    for k, (link, then) in enumerate(zip(links, branches)):
        c = link.cond
        cond = ir.Logical(op="and", a=not_taken(c), b=c, ty=BOOL, line=c.line, col=c.col) if k else c
        row.append(ir.If(cond=cond, then=[taken(True, link)] + then, otherwise=[], line=link.line, col=link.col))
    if last:
        row.append(ir.If(cond=not_taken(last[0]), then=last, otherwise=[], line=last[0].line, col=last[0].col))
    return row
