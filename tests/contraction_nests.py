"""Generated loop nests for the contraction tests (tests/test_contraction.py): each family writes one
computation in many ways — loop order, names, scalars, transposed operands, accumulation in place
or through a scalar, a scale or a zero fill first, triangles — and the nests that look alike but
must be left alone.

A `Kernel` is the source of one function, the arrays it takes (with the shape of each as a
function of the sizes), and whether the recogniser must find a contraction in it.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

NAMES = ["a", "b", "c", "d", "e", "p", "q", "r", "u", "w", "x", "y", "z", "acc", "out", "src"]
VARS = ["i", "j", "k", "l", "n1", "t", "s1", "v"]


@dataclass
class Kernel:
    name: str
    params: list[tuple[str, str]]  # (name, kind): "float", "int", "mat", "vec", "imat"
    body: str
    shapes: dict[str, Callable[[dict[str, int]], tuple[int, ...]]]
    recognised: bool
    why: str = ""  # for a nest left alone: a piece of the reason --explain must give
    sizes: list[str] = field(default_factory=list)  # the int parameters that are loop bounds
    diagonal: bool = False  # it divides by a square array's diagonal (keep it away from zero, mostly)
    reduces: bool = False  # a float sum through a scalar: native code may add it in another order

    def source(self, reference: bool = False) -> str:
        types = {"float": "float", "int": "int", "mat": "Array<float, 2>", "vec": "Array<float, 1>",
                 "ten3": "Array<float, 3>",
                 "imat": "Array<int, 2>"}
        params = ", ".join(f"{n}: {types[k]}" for n, k in self.params)
        name = self.name + ("_ref" if reference else "")
        return ("@no_optimize\n" if reference else "") + f"fn {name}({params}) {{\n{self.body}}}\n"


def _product(rng: random.Random, factors: list[str], alpha: str) -> str:
    items = factors + ([alpha] if alpha else [])
    rng.shuffle(items)
    return " * ".join(items)


def _loops(order: list[tuple[str, str]], inner: str, indent: int = 1, down: "set[str] | None" = None) -> str:
    """Nested counting loops (var, bound) around `inner`; those of `down` count down
    (`for v in range(hi - 1, lo - 1, -1)`)."""
    if not order:
        return "    " * indent + inner + "\n"
    (v, bound), rest = order[0], order[1:]
    lo, _, hi = bound.partition("..")
    if not hi:
        lo, hi = "0", bound
    pad = "    " * indent
    head = f"range({hi} - 1, {lo} - 1, -1)" if v in (down or set()) else f"{lo}..{hi}"
    return f"{pad}for {v} in {head} {{\n" + _loops(rest, inner, indent + 1, down) + f"{pad}}}\n"


def _down(rng: random.Random, vs: list[str]) -> set[str]:
    """Some of the loops counting down, now and then (a sum in another order: still the contraction)."""
    return {v for v in vs if rng.random() < 0.5} if rng.random() < 0.3 else set()


def _alpha(rng: random.Random) -> str:
    return rng.choice(["", "alpha", "2.5", "alpha", "-1.5"])


def gemm(rng: random.Random, name: str) -> Kernel:
    i, j, k = rng.sample(VARS, 3)
    A, B, C = rng.sample(NAMES, 3)
    ta, tb = rng.choice("NT"), rng.choice("NT")
    a = f"{A}[{i}, {k}]" if ta == "N" else f"{A}[{k}, {i}]"
    b = f"{B}[{k}, {j}]" if tb == "N" else f"{B}[{j}, {k}]"
    c = f"{C}[{i}, {j}]"
    alpha = _alpha(rng)
    prod = _product(rng, [a, b], alpha)
    bounds = {i: "ni", j: "nj", k: "nk"}
    form = rng.choice(["acc", "scale", "fill", "scalar", "scalar_beta"])
    if form == "acc":
        order = rng.sample([i, j, k], 3)
        body = _loops([(v, bounds[v]) for v in order], f"{c} += {prod}", down=_down(rng, order))
    elif form in ("scale", "fill"):
        outer = rng.choice([i, j])
        other = j if outer == i else i
        first = f"{c} *= beta" if form == "scale" else f"{c} = 0.0"
        rest = rng.sample([other, k], 2)
        body = (f"    for {outer} in 0..{bounds[outer]} {{\n" + _loops([(other, bounds[other])], first, 2)
                + _loops([(v, bounds[v]) for v in rest], f"{c} += {prod}", 2) + "    }\n")
    else:
        outer = rng.sample([i, j], 2)
        store = f"{c} = s" if form == "scalar" else f"{c} = beta * {c} + s"
        body = _loops([(v, bounds[v]) for v in outer],
                      f"var s = 0.0\n" + _loops([(k, bounds[k])], f"s += {prod}", 3).rstrip() + "\n" + "    " * 3
                      + store)
    shapes = {A: (lambda z: (z["ni"], z["nk"])) if ta == "N" else (lambda z: (z["nk"], z["ni"])),
              B: (lambda z: (z["nk"], z["nj"])) if tb == "N" else (lambda z: (z["nj"], z["nk"])),
              C: lambda z: (z["ni"], z["nj"])}
    params = [("alpha", "float"), ("beta", "float"), (A, "mat"), (B, "mat"), (C, "mat"),
              ("ni", "int"), ("nj", "int"), ("nk", "int")]
    rng.shuffle(params)
    return Kernel(name, params, body, shapes, True, sizes=["ni", "nj", "nk"])


def gemv(rng: random.Random, name: str) -> Kernel:
    i, j = rng.sample(VARS, 2)
    A, X, Y = rng.sample(NAMES, 3)
    t = rng.choice("NT")
    a = f"{A}[{i}, {j}]" if t == "N" else f"{A}[{j}, {i}]"
    prod = _product(rng, [a, f"{X}[{j}]"], _alpha(rng))
    y = f"{Y}[{i}]"
    form = rng.choice(["acc", "fill", "scale", "scalar"])
    if form == "acc":
        order = rng.sample([(i, "ni"), (j, "nj")], 2)
        body = _loops(order, f"{y} += {prod}", down=_down(rng, [i, j]))
    elif form in ("fill", "scale"):
        first = f"{y} = 0.0" if form == "fill" else f"{y} *= beta"
        body = (f"    for {i} in 0..ni {{\n        {first}\n" + _loops([(j, "nj")], f"{y} += {prod}", 2) + "    }\n")
    else:
        body = _loops([(i, "ni")], "var s = 0.0\n" + _loops([(j, "nj")], f"s += {prod}", 2).rstrip() + "\n        "
                      + f"{y} = s")
    shapes = {A: (lambda z: (z["ni"], z["nj"])) if t == "N" else (lambda z: (z["nj"], z["ni"])),
              X: lambda z: (z["nj"],), Y: lambda z: (z["ni"],)}
    params = [("alpha", "float"), ("beta", "float"), (A, "mat"), (X, "vec"), (Y, "vec"), ("ni", "int"), ("nj", "int")]
    rng.shuffle(params)
    return Kernel(name, params, body, shapes, True, sizes=["ni", "nj"])


def ger(rng: random.Random, name: str) -> Kernel:
    i, j = rng.sample(VARS, 2)
    A, X, Y = rng.sample(NAMES, 3)
    prod = _product(rng, [f"{X}[{i}]", f"{Y}[{j}]"], _alpha(rng))
    order = rng.sample([(i, "ni"), (j, "nj")], 2)
    body = _loops(order, f"{A}[{i}, {j}] += {prod}", down=_down(rng, [i, j]))
    shapes = {A: lambda z: (z["ni"], z["nj"]), X: lambda z: (z["ni"],), Y: lambda z: (z["nj"],)}
    params = [("alpha", "float"), (A, "mat"), (X, "vec"), (Y, "vec"), ("ni", "int"), ("nj", "int")]
    rng.shuffle(params)
    return Kernel(name, params, body, shapes, True, sizes=["ni", "nj"])


def _triangle(rng: random.Random, i: str, j: str) -> tuple[str, str]:
    """The bounds of (i, j) over one triangle of an n x n matrix, j the inner loop: with the
    diagonal or without it (strict), the outer loop of a strict triangle leaving out its empty row
    or not (correlation's `for i in 0..n - 1 { for j in i + 1..n`)."""
    return rng.choice([("n", f"0..{i} + 1"), ("n", f"{i}..n"), ("n", f"0..{i}"), ("1..n", f"0..{i}"),
                       ("n", f"{i} + 1..n"), ("n - 1", f"{i} + 1..n")])


def syrk(rng: random.Random, name: str) -> Kernel:
    i, j, k = rng.sample(VARS, 3)
    A, C = rng.sample(NAMES, 2)
    t = rng.choice("NT")
    a1, a2 = (f"{A}[{i}, {k}]", f"{A}[{j}, {k}]") if t == "N" else (f"{A}[{k}, {i}]", f"{A}[{k}, {j}]")
    two = rng.random() < 0.5
    B = rng.choice([x for x in NAMES if x not in (A, C)])
    if two:
        b1, b2 = (f"{B}[{i}, {k}]", f"{B}[{j}, {k}]") if t == "N" else (f"{B}[{k}, {i}]", f"{B}[{k}, {j}]")
        alpha = rng.choice(["alpha", "2.0"])
        prod = f"{_product(rng, [a1, b2], alpha)} + {_product(rng, [b1, a2], alpha)}"
    else:
        prod = _product(rng, [a1, a2], _alpha(rng))
    ni, jb = _triangle(rng, i, j)
    c = f"{C}[{i}, {j}]"
    if rng.random() < 0.5:
        body = (f"    for {i} in {ni if '..' in ni else '0..' + ni} {{\n" + _loops([(j, jb)], f"{c} *= beta", 2)
                + _loops([(k, "m"), (j, jb)], f"{c} += {prod}", 2) + "    }\n")
    else:
        body = _loops([(i, ni), (k, "m"), (j, jb)], f"{c} += {prod}")
    shape_a = (lambda z: (z["n"], z["m"])) if t == "N" else (lambda z: (z["m"], z["n"]))
    shapes = {A: shape_a, C: lambda z: (z["n"], z["n"])}
    params = [("alpha", "float"), ("beta", "float"), (A, "mat"), (C, "mat"), ("n", "int"), ("m", "int")]
    if two:
        shapes[B] = shape_a
        params.append((B, "mat"))
    rng.shuffle(params)
    return Kernel(name, params, body, shapes, True, sizes=["n", "m"])


def trmm(rng: random.Random, name: str) -> Kernel:
    i, j, k = rng.sample(VARS, 3)
    A, B = rng.sample(NAMES, 2)
    after = rng.random() < 0.5
    kb = f"{i} + 1..m" if after else f"0..{i}"
    t = rng.choice("NT")
    a = f"{A}[{k}, {i}]" if t == "T" else f"{A}[{i}, {k}]"
    inner = f"{B}[{i}, {j}] += {_product(rng, [a, f'{B}[{k}, {j}]'], '')}"
    scale = f"{B}[{i}, {j}] = alpha * {B}[{i}, {j}]" if rng.random() < 0.7 else ""
    # the nest as PolyBench writes it reads rows k > i, not updated yet; rows k < i are updated
    # already (i runs up): that variant must be left alone
    body = (f"    for {i} in 0..m {{\n        for {j} in 0..n {{\n" + _loops([(k, kb)], inner, 3)
            + (f"            {scale}\n" if scale else "") + "        }\n    }\n")
    shapes = {A: lambda z: (z["m"], z["m"]), B: lambda z: (z["m"], z["n"])}
    params = [("alpha", "float"), (A, "mat"), (B, "mat"), ("m", "int"), ("n", "int")]
    rng.shuffle(params)
    # left alone (rows already updated are read): with the scale after it, the two statements depend
    # on each other both ways; without, the update reads what it wrote
    why = "" if after else "depend on each other in both directions" if scale else "is read again"
    return Kernel(name, params, body, shapes, after, why=why, sizes=["m", "n"])


def trsv(rng: random.Random, name: str) -> Kernel:
    """Forward substitution: copy or not, divide or not (unit diagonal), L or the transpose of its upper part."""
    i, j = rng.sample(VARS, 2)
    L, X, B = rng.sample(NAMES, 3)
    lij = f"{L}[{i}, {j}]" if rng.random() < 0.5 else f"{L}[{j}, {i}]"
    prod = " * ".join(rng.sample([lij, f"{X}[{j}]"], 2))
    copy = rng.random() < 0.6
    divide = rng.random() < 0.6
    body = (f"    for {i} in 0..n {{\n" + (f"        {X}[{i}] = {B}[{i}]\n" if copy else "")
            + f"        for {j} in 0..{i} {{ {X}[{i}] -= {prod} }}\n"
            + (f"        {X}[{i}] = {X}[{i}] / {L}[{i}, {i}]\n" if divide else "") + "    }\n")
    shapes = {L: lambda z: (z["n"], z["n"]), X: lambda z: (z["n"],)}
    params = [(L, "mat"), (X, "vec"), ("n", "int")] + ([(B, "vec")] if copy else [])
    if copy:
        shapes[B] = lambda z: (z["n"],)
    rng.shuffle(params)
    return Kernel(name, params, body, shapes, True, sizes=["n"], diagonal=divide)


def batched(rng: random.Random, name: str) -> Kernel:
    """doitgen: every row of an array (over one or two batch loops) times a matrix, through a
    temporary vector, copied back into the row or into another array — or a look-alike: the
    temporary carried from one batch to the next, a batch loop not from 0, a row read elsewhere."""
    depth = rng.choice([1, 2])
    vs = rng.sample(VARS, depth + 2)
    batch, p, s = vs[:depth], vs[depth], vs[depth + 1]
    X, M, T, Y = rng.sample(NAMES, 4)
    same = rng.random() < 0.5
    if same:
        Y = X
    t = rng.choice("NT")
    m = f"{M}[{s}, {p}]" if t == "N" else f"{M}[{p}, {s}]"
    bvars = ", ".join(batch)
    kind = rng.choice(["fill", "scalar", "fill", "scalar", "carry", "offset", "shifted"])
    prod = _product(rng, [f"{X}[{bvars}, {s}]", m], _alpha(rng))
    ns = "np" if same else "ns"
    if kind in ("fill", "offset", "shifted"):
        compute = (f"for {p} in 0..np {{\n    {T}[{p}] = 0.0\n    for {s} in 0..{ns} {{ {T}[{p}] += {prod} }}\n}}")
    elif kind == "scalar":
        compute = (f"for {p} in 0..np {{\n    var tot = 0.0\n    for {s} in 0..{ns} {{ tot += {prod} }}\n"
                   f"    {T}[{p}] = tot\n}}")
    else:  # the sums start from what the previous batch left
        compute = f"for {p} in 0..np {{\n    for {s} in 0..{ns} {{ {T}[{p}] += {prod} }}\n}}"
    back = f"{T}[{p}]" if kind != "shifted" else f"{T}[{p}] + {X}[0, {', '.join(['0'] * (depth - 1) + [p])}]"
    store = f"for {p} in 0..np {{ {Y}[{bvars}, {p}] = {back} }}"
    inner = "    " * (depth + 1)
    loops = list(zip(batch, ["nb", "nc"]))
    if depth == 2 and rng.random() < 0.4:  # the batch loops in another order than the subscripts
        loops.reverse()
    body = "".join(f"{'    ' * (d + 1)}for {v} in {'1..' if kind == 'offset' and d == 0 else '0..'}{b} {{\n"
                   for d, (v, b) in enumerate(loops))
    body += "".join(inner + line + "\n" for line in (compute + "\n" + store).split("\n"))
    body += "".join(f"{'    ' * (d + 1)}}}\n" for d in range(depth - 1, -1, -1))
    kind3 = "ten3" if depth == 2 else "mat"
    wide = rng.random() < 0.2  # a batch dimension wider than its loop: the rows do not flatten
    lead = (lambda z: (z["nb"], z["nc"] + wide)) if depth == 2 else (lambda z: (z["nb"],))
    shapes = {X: lambda z: lead(z) + (z[ns],), T: lambda z: (z["np"],),
              M: (lambda z: (z[ns], z["np"])) if t == "N" else (lambda z: (z["np"], z[ns]))}
    params = [("alpha", "float"), (X, kind3), (M, "mat"), (T, "vec"), ("nb", "int"), ("np", "int")]
    sizes = ["nb", "np"]
    if not same:
        shapes[Y] = lambda z: lead(z) + (z["np"],)
        params += [(Y, kind3), ("ns", "int")]
        sizes.append("ns")
    if depth == 2:
        params.append(("nc", "int"))
        sizes.append("nc")
    rng.shuffle(params)
    why = {"carry": "adds to what", "offset": "does not run from 0", "shifted": ""}.get(kind, "")
    return Kernel(name, params, body, shapes, kind in ("fill", "scalar"), why=why, sizes=sizes)


def symm(rng: random.Random, name: str) -> Kernel:
    """PolyBench's symm, C = beta * C + alpha * sym(A) * B, one triangle of A walked once (an
    addition to rows already scaled, a sum through a scalar): either side, either triangle, either
    loop order, any names and scalars — or a look-alike: the additions reaching rows not scaled yet,
    a coefficient that differs, the diagonal left out."""
    i, j, k = rng.sample(VARS, 3)
    A, B, C, T = rng.sample([x for x in NAMES if x not in ("r",)], 4)
    side, uplo = rng.choice("LR"), rng.choice("LU")
    kind = rng.choice(["ok", "ok", "ok", "late", "coef", "nodiag"])
    v, w, size = (i, j, "m") if side == "L" else (j, i, "n")
    at = (lambda x: f"{C}[{x}, {j}]") if side == "L" else (lambda x: f"{C}[{i}, {x}]")
    b_at = (lambda x: f"{B}[{x}, {j}]") if side == "L" else (lambda x: f"{B}[{i}, {x}]")
    a_vk = f"{A}[{v}, {k}]" if uplo == "L" else f"{A}[{k}, {v}]"
    alpha, beta = rng.choice([("alpha", "beta"), ("1.5", "beta"), ("alpha", "1.2"), ("-2.0", "0.5")])
    krange = f"0..{v}" if kind != "late" else f"{v} + 1..{size}"
    add = f"{at(k)} += {_product(rng, [f'{B}[{i}, {j}]', a_vk], alpha)}"
    acc = f"tsum += {_product(rng, [b_at(k), a_vk], '')}"
    terms = [f"{_product(rng, [f'{B}[{i}, {j}]', f'{A}[{v}, {v}]'], alpha)}",
             f"{'0.5 * ' if kind == 'coef' else ''}{alpha} * tsum"]
    if kind == "nodiag":
        terms = terms[1:]
    rng.shuffle(terms)
    inner = [add, acc]
    rng.shuffle(inner)
    order = [(i, "m"), (j, "n")] if rng.random() < 0.5 else [(j, "n"), (i, "m")]
    body = (f"    for {order[0][0]} in 0..{order[0][1]} {{\n        for {order[1][0]} in 0..{order[1][1]} {{\n"
            f"            var tsum = 0.0\n            for {k} in {krange} {{\n"
            + "".join(f"                {x}\n" for x in inner)
            + f"            }}\n            {C}[{i}, {j}] = {beta} * {C}[{i}, {j}] + {' + '.join(terms)}\n"
            + "        }\n    }\n")
    shapes = {A: (lambda z: (z["m"], z["m"])) if side == "L" else (lambda z: (z["n"], z["n"])),
              B: lambda z: (z["m"], z["n"]), C: lambda z: (z["m"], z["n"])}
    params = [("alpha", "float"), ("beta", "float"), (A, "mat"), (B, "mat"), (C, "mat"), ("m", "int"), ("n", "int")]
    rng.shuffle(params)
    why = {"late": "before line", "coef": "different coefficients", "nodiag": "2 products"}.get(kind, "")
    return Kernel(name, params, body, shapes, kind == "ok", why=why, sizes=["m", "n"], reduces=True)


def lookalike(rng: random.Random, name: str) -> Kernel:
    """A nest that looks like a product but must be left alone, and the reason it must give."""
    i, j, k = rng.sample(VARS, 3)
    A, B, C = rng.sample(NAMES, 3)
    kind = rng.choice(["dependence", "subscript", "diagonal", "prefix", "overwrite", "int", "short"])
    shapes = {A: lambda z: (z["ni"], z["nk"]), B: lambda z: (z["nk"], z["nj"]), C: lambda z: (z["ni"], z["nj"])}
    kinds = {A: "mat", B: "mat", C: "mat"}
    bounds = {i: "ni", j: "nj", k: "nk"}
    order = rng.sample([i, j, k], 3)
    if kind == "dependence":  # reads the result at rows the nest writes
        stmt, why = f"{C}[{i}, {j}] += {A}[{i}, {k}] * {C}[{k}, {j}]", "written earlier in the nest"
        shapes[C] = lambda z: (z["ni"], z["ni"])
        shapes[A] = lambda z: (z["ni"], z["ni"])
        bounds = {i: "ni", j: "ni", k: "ni"}
    elif kind == "subscript":
        stmt, why = f"{C}[{i}, {j}] += {A}[{i}, {k}] * {B}[{k} + 1, {j}]", "not a loop variable"
        shapes[B] = lambda z: (z["nk"] + 1, z["nj"])
    elif kind == "diagonal":
        stmt, why = f"{C}[{i}, {j}] += {A}[{k}, {k}] * {B}[{i}, {j}]", "diagonal"
        shapes[A] = lambda z: (z["nk"], z["nk"])
        shapes[B] = lambda z: (z["ni"], z["nj"])
    elif kind == "prefix":
        stmt, why = f"{C}[{i}, {j}] += {A}[{i}, {k}] * {B}[{k}, {j}]", "does not run from 0"
        order = [i, j, k]
        bounds = {i: "ni", j: "nj", k: f"0..{j}"}
        shapes[A] = lambda z: (z["ni"], z["nj"])
        shapes[B] = lambda z: (z["nj"], z["nj"])
    elif kind == "short":  # a triangle with its diagonal whose outer loop stops one row short
        stmt, why = f"{C}[{i}, {j}] += {A}[{i}, {k}] * {A}[{j}, {k}]", "does not run from 0"
        order = [i, k, j]
        bounds = {i: "ni - 1", j: f"{i}..ni", k: "nk"}
        shapes[C] = lambda z: (z["ni"], z["ni"])
    elif kind == "overwrite":
        stmt, why = f"{C}[{i}, {j}] = {A}[{i}, {k}] * {B}[{k}, {j}]", "does not add to the element it stores"
    else:
        stmt, why = f"{C}[{i}, {j}] += {A}[{i}, {k}] * {B}[{k}, {j}]", "not a float array"
        kinds = {A: "imat", B: "imat", C: "imat"}
    down = _down(rng, order) if kind in ("dependence", "subscript", "overwrite") else set()
    if down:  # loops counting down: no ascending copy is taken of these
        why = "does not count by one"
    body = _loops([(v, bounds[v]) for v in order], stmt, down=down)
    params = [(A, kinds[A]), (B, kinds[B]), (C, kinds[C]), ("ni", "int"), ("nj", "int"), ("nk", "int")]
    rng.shuffle(params)
    return Kernel(name, params, body, shapes, False, why, sizes=["ni", "nj", "nk"])


def slices(rng: random.Random, name: str) -> Kernel:
    """A matrix product per slice of 3-D arrays (`C[t, i, j] += A[t, i, k] * B[t, k, j]`): any loop
    order inside the batch loop, names, transposes, through a scalar or in place — or a look-alike:
    the batch variable in a bound or in the product, a slice read where it is written."""
    t, i, j, k = rng.sample(VARS, 4)
    A, B, C = rng.sample(NAMES, 3)
    ta, tb = rng.choice("NT"), rng.choice("NT")
    a = f"{A}[{t}, {i}, {k}]" if ta == "N" else f"{A}[{t}, {k}, {i}]"
    b = f"{B}[{t}, {k}, {j}]" if tb == "N" else f"{B}[{t}, {j}, {k}]"
    kind = rng.choice(["acc", "acc", "scalar", "scalar", "bound", "factor", "self"])
    bounds = {i: "ni", j: "nj", k: "nk" if kind != "bound" else f"0..{t}"}
    extra = {"factor": [f"float({t})"], "self": []}.get(kind, [])
    if kind == "self":  # the product reads the slice it writes
        b = f"{C}[{t}, {k}, {j}]"
        bounds = {i: "ni", j: "ni", k: "ni"}
    prod = _product(rng, [a, b] + extra, _alpha(rng))
    c = f"{C}[{t}, {i}, {j}]"
    if kind == "scalar":
        order = rng.sample([i, j], 2)
        inner = _loops([(v, bounds[v]) for v in order],
                       "var s = 0.0\n" + _loops([(k, bounds[k])], f"s += {prod}", 4).rstrip() + "\n" + "    " * 4
                       + f"{c} = s", 2)
    else:
        order = rng.sample([i, j, k], 3)
        inner = _loops([(v, bounds[v]) for v in order], f"{c} += {prod}", 2)
    body = f"    for {t} in 0..nb {{\n" + inner + "    }\n"
    shapes = {A: (lambda z: (z["nb"], z["ni"], z["nk"])) if ta == "N" else (lambda z: (z["nb"], z["nk"], z["ni"])),
              B: (lambda z: (z["nb"], z["nk"], z["nj"])) if tb == "N" else (lambda z: (z["nb"], z["nj"], z["nk"])),
              C: lambda z: (z["nb"], z["ni"], z["nj"])}
    if kind == "bound":  # k runs up to t: the arrays must be that wide
        shapes[A] = lambda z: (z["nb"], z["ni"] + z["nb"], z["ni"] + z["nb"])
        shapes[B] = lambda z: (z["nb"], z["nj"] + z["nb"], z["nj"] + z["nb"])
    if kind == "self":
        shapes = {A: lambda z: (z["nb"], z["ni"], z["ni"]), C: lambda z: (z["nb"], z["ni"], z["ni"])}
    params = [("alpha", "float"), (A, "ten3"), (C, "ten3"), ("nb", "int"), ("ni", "int"), ("nj", "int"), ("nk", "int")]
    if kind != "self":
        params.append((B, "ten3"))
    rng.shuffle(params)
    why = {"bound": "", "factor": "", "self": "written earlier in the nest"}.get(kind, "")
    return Kernel(name, params, body, shapes, kind in ("acc", "scalar"), why=why, sizes=["nb", "ni", "nj", "nk"],
                  reduces=kind == "scalar")


FAMILIES = {"gemm": gemm, "gemv": gemv, "ger": ger, "syrk": syrk, "trmm": trmm, "trsv": trsv,
            "batched": batched, "symm": symm, "lookalike": lookalike, "slices": slices}
