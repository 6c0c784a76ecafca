"""The `intents` pass: recognise what each loop nest means and give it a faster variant.

For every loop, outermost first, the recognisers of noodle.ir.intents are asked in turn:

    factorisation  a Cholesky factorisation in place, in any loop order: LAPACK's dpotrf
    contraction  a tensor contraction (`X = beta * X + alpha * sum of products`, any loop order,
             accumulated in place or through a scalar; a nest doing several things split first by
             loop distribution): BLAS calls, in place
    loops    reductions (sum, product, min, max, count, under an if-filter or not), dot, elementwise
             map, stencil, scan, histogram
    sweeps   a stencil repeated and copied back (Jacobi sweeps), once its two nests are recognised

and array expressions are fused (`expressions`: `sum(x * y)` is one pass, no temporary; a chain
of elementwise maps is one loop).

A recognition with a library variant replaces the nest by a dispatch,

    if <guard>(...) { <library variant> } else { <the loops, unchanged> }      // If.intent = "contraction"

whose guard decides at run time, per call, whether the variant computes what the loops would
(shapes, dtypes, overlap); the others keep their loops and carry the recognition on them
(`ForRange.intent`, details in `ForRange.note`).  A loop shaped like an intent but left alone
says why in `ForRange.note` ("no intent: line 7 reads `s` ..."): `noodlec --explain` shows
both.  The variants themselves are listed in noodle.ir.variants.
"""
from __future__ import annotations

from noodle.ir import affine
from noodle.ir import nodes as ir
from noodle.ir.intents import (batched, canonical, contraction, expressions, factorisation, interchange, loops, sweeps, symmetric,
                               triangular)
from noodle.ir.passes import register_module
from noodle.ir.walk import walk


@register_module("intents", "recognise what loop nests compute; give them guarded faster variants")
def recognise_module(module: ir.Module) -> int:
    """Recognise every loop nest in `module`; returns how many were given a library variant."""
    found = 0
    for f in module.functions:
        if "no_optimize" in f.attributes:
            continue
        # `len(c[i])` in a loop over the rows of c: c.shape[1]; `for v in x` over an Array: indexed
        # (and a stencil's offsets written as small loops through a scalar: one expression)
        counter = [canonical.row_lengths(f) + canonical.element_loops(f) + canonical.small_loops(f)
                   + canonical.scalar_chains(f)]
        f.body = _body(f, f.body, counter)
        found += counter[0] + expressions.fuse(f) + expressions.fuse_maps(f)
    return found


def _body(f: ir.Function, body: list[ir.Stmt], counter: list[int], quiet: bool = False) -> list[ir.Stmt]:
    """`body` with its loops recognised; `quiet` inside a nest already said why it is no contraction
    (its inner loops are still tried, but only the outermost nest's reason is kept)."""
    out: list[ir.Stmt] = []
    for s in body:
        if isinstance(s, ir.ForRange):
            factor = factorisation.recognise(f, s) if not s.intent else None  # a Cholesky factorisation
            if not isinstance(factor, ir.If) and not s.intent and not quiet:  # (outermost nests only)
                factor = _factorisation_in_place(f, s) or factor
            if isinstance(factor, ir.If):
                counter[0] += 1
                _fallback(factor.otherwise[0], "LAPACK does not fit or finds the matrix not positive definite")
                out.append(factor)
                continue
            with affine.remembering():  # the nest's model and distribution, asked by each recogniser
                product, moved = _library_variants(f, s)
            if moved is not None:
                if isinstance(moved, ir.If):
                    counter[0] += 1
                    moved.otherwise[0].note += " — these loops as written when the guard does not hold"
                    out.append(moved)
                    continue
                if moved and product is None:
                    s.note = moved
            if isinstance(product, ir.If):
                counter[0] += 1
                _fallback(product.otherwise[0])
                out.append(product)
                continue
            if not s.intent:
                replacement = loops.recognise(f, s)
                if replacement is not None:
                    counter[0] += 1
                    out.append(replacement)
                    continue
            if product is not None and not s.intent and not quiet:
                s.note = f"not a contraction: {product}"
            if factor is not None and not s.intent and not quiet:  # it looked like a factorisation too
                s.note = "; ".join(x for x in (s.note, f"not a Cholesky factorisation: {factor}") if x)
            s.body = _body(f, s.body, counter, quiet or product is not None)
            repeated = sweeps.recognise(f, s)  # its nests are recognised by now
            if repeated is not None:
                counter[0] += 1
                out.append(repeated)
                continue
        elif isinstance(s, ir.If):
            s.then = _body(f, s.then, counter, quiet)
            s.otherwise = _body(f, s.otherwise, counter, quiet)
        elif isinstance(s, (ir.While, ir.ForEach)):
            s.body = _body(f, s.body, counter, quiet)
        elif isinstance(s, ir.TryCatch):
            s.body = _body(f, s.body, counter, quiet)
            s.handler = _body(f, s.handler, counter, quiet)
        out.append(s)
    return out


def _library_variants(f: ir.Function, s: ir.ForRange) -> "tuple[ir.If | str | None, ir.If | str | None]":
    """What the contraction recognisers make of the nest `s` (a dispatch, why not, or None), and,
    when none made a dispatch, what loop interchange makes of it (None when it was not asked)."""
    product = contraction.recognise(f, s) if not s.intent else None
    if not isinstance(product, ir.If) and not s.intent:
        product = _through_hoisted_reads(f, s) or product
    if not isinstance(product, ir.If) and not s.intent:
        rows = batched.recognise(f, s)  # the same product for every row of an array
        product = rows if rows is not None else product
    if not isinstance(product, ir.If) and not s.intent:
        slices = batched.recognise_slices(f, s)  # a product for every slice of 3-D arrays
        product = slices if slices is not None else product
    if not isinstance(product, ir.If) and not s.intent:
        sym = symmetric.recognise(f, s)  # a triangle standing for a symmetric matrix
        product = sym if sym is not None else product
    if not isinstance(product, ir.If) and not s.intent:
        solve = triangular.recognise(f, s)  # a forward substitution: a recurrence, no contraction
        product = solve if isinstance(solve, ir.If) else product or solve
    moved = None
    if not isinstance(product, ir.If) and not s.intent:
        moved = interchange.recognise(f, s)  # strided inner loops, exchanged
    return product, moved


def _through_hoisted_reads(f: ir.Function, s: ir.ForRange) -> "ir.If | None":
    """The contraction in `s` once the array elements it reads into `let`s are read where they are
    used (`let aik = a[i, k]` above `for j { c[i, j] += aik * b[k, j] }`), or once its loops that
    count down count up (a sum of terms in another order): the dispatch of the rewritten copy,
    falling back to `s` as written."""
    copy = canonical.hoisted_reads(f, s)
    found = _recognised_copy(f, s, copy) if copy is not None else None
    if found is None and (up := canonical.ascending(f, s)) is not None:
        copy, safe = up
        found = _recognised_copy(f, s, copy)
        if found is not None and safe is not None:  # the copy's bounds, unchecked, used only when right
            found.cond = ir.Logical(op="and", a=found.cond, b=safe, ty=found.cond.ty, line=s.line, col=s.col)
    return found


def _recognised_copy(f: ir.Function, s: ir.ForRange, copy: ir.ForRange) -> "ir.If | None":
    """The contraction dispatch of `copy`, a rewritten copy of the nest `s`, falling back to `s`."""
    with contraction.standing_in(copy, s):
        found = contraction.recognise(f, copy)
    if not isinstance(found, ir.If):
        return None
    s.note = copy.note  # what the calls compute, for --explain
    found.otherwise = [s]
    found.line, found.col = s.line, s.col
    return found


def _factorisation_in_place(f: ir.Function, s: ir.ForRange) -> "ir.If | None":
    """The factorisation in `s` once its sums through scalars accumulate in the elements they
    start from (Cholesky written with `var s = a[j, j]`): the dispatch of that copy, falling back
    to `s` as written (the copy differs only after an error, which the guard rules out)."""
    copy = canonical.accumulated_in_place(f, s)
    if copy is None:
        return None
    with contraction.standing_in(copy, s):
        found = factorisation.recognise(f, copy)
    if not isinstance(found, ir.If):
        return None
    s.note = copy.note
    found.otherwise = [s]
    found.line, found.col = s.line, s.col
    return found


def _fallback(nest: ir.Stmt, when: str = "BLAS does not fit") -> None:
    """Mark the loops a recognised product falls back to, so `--explain` names them as such."""
    assert isinstance(nest, ir.ForRange)
    nest.note = f"{nest.note} — these loops as written when {when}"
    for n in walk(nest):
        if isinstance(n, ir.ForRange) and n is not nest:
            n.intent = "nested"
