"""Loop interchange: a nest whose inner loop walks down a column is distributed into its pieces
(noodle.ir.affine.distribute) and each two-loop piece whose inner loop strides is run with its
loops exchanged, when the dependences allow it (PolyBench's correlation and covariance):

    for j in 0..m { mean[j] = 0.0; for i in 0..n { mean[j] += data[i, j] }; mean[j] /= float_n }

becomes, guarded,

    for j in 0..m { mean[j] = 0.0 }
    for i in 0..n { for j in 0..m { mean[j] += data[i, j] } }      // unit stride: vectorised
    for j in 0..m { mean[j] /= float_n }

Each element still sees its operations in the same order (the sums add in the same order: the
result is exact).  Distribution moves statements past iterations of others, so the pieces must
fail nowhere: the guard (the contraction dispatch's, noodle.ir.intents.contraction) proves every
index in bounds, the arrays written distinct from the others (the analysis assumed distinct names
distinct memory), and every divisor non-zero; else the loops run as written.  A nest that would
gain but whose dependences forbid the exchange keeps its loops, and --explain says why.
"""
from __future__ import annotations

from noodle.ir import affine
from noodle.ir import nodes as ir
from noodle.ir.affine import Refused
from noodle.ir.intents import contraction as c


def recognise(f: ir.Function, root: ir.ForRange) -> "ir.If | str | None":
    """The distributed, interchanged nest (an If with intent `interchange`), why a nest that would
    gain from it keeps its loops, or None for a nest with nothing to gain."""
    if not any(isinstance(s, ir.ForRange) for s in root.body):
        return None
    names = f.local_names
    try:
        nest = affine.model(f, root)
        parts = affine.distribute(f, root, nest)
    except Refused:
        return None
    pieces = []
    for p in parts:
        piece = c._loop_piece(f, p)
        if piece is None:
            return None  # a piece that may fail (or is no plain store): it must run where it stands
        pieces.append(piece)
    refusal = None
    for piece in pieces:
        why = _gain(f, piece, names)
        if why is None:
            piece.swap = True
        elif why:
            refusal = why
    if not any(p.swap for p in pieces):
        return refusal
    try:
        return c._dispatch(f, root, pieces, names, intent="interchange")  # type: ignore[arg-type]
    except Refused:
        return None


def _strided(piece: c.Loops, inner: int) -> int:
    """How many of the piece's accesses the loop over `inner` walks other than along a row."""
    return sum(1 for op in [piece.out] + piece.reads if inner in op.vars and op.vars[-1] != inner)


def _gain(f: ir.Function, piece: c.Loops, names: list[str]) -> "str | None":
    """None when the piece's two loops should be exchanged (fewer strided accesses after, and the
    dependences allow it), "" when it has nothing to gain, else why the exchange is refused."""
    chain = affine.perfect_loops(piece.root)
    if len(chain) != 2 or len(piece.loops) != 2:
        return ""
    outer, inner = piece.loops
    if _strided(piece, outer.slot) >= _strided(piece, inner.slot):
        return ""
    for lp in (outer, inner):
        if not (lp.lower.symbolic() and lp.upper.symbolic()):
            return (f"line {piece.line}: the loops are not interchanged: the bounds of the loop over "
                    f"`{names[lp.slot]}` depend on the other loop")
    why = affine.interchange_refusal(affine.model(f, piece.root), [inner.slot, outer.slot],
                                     dict(enumerate(names)))
    if why is not None:
        return f"the loops are not interchanged: {why}"
    return None
