"""What `noodlec --explain` says about each loop nest and array expression.

For every loop: the intent the `intents` pass recognised (or why a loop shaped like one was left
alone), the variants that can run it and when each is chosen (noodle.ir.variants), and
where its loops run (native code, with which bounds-check-free versions, or the VM and why);
for every array expression: whether it was fused, or how many NumPy passes it takes.
"""
from __future__ import annotations

from noodle.ir import variants
from noodle.ir import nodes as ir
from noodle.ir.native_plan import Plan, in_bounds_accesses


def explain_functions(module: ir.Module, p: Plan, native_available: bool) -> list[tuple[int, str]]:
    """(line, text) for each function: native code or the VM, and why not native."""
    out: list[tuple[int, str]] = []
    for f in module.functions:
        if f.kind != "fn" or f.name.startswith(("__loop_", "__chunk_")):
            continue  # an outlined loop (or a chunk of a split one) is explained with the loops
        if f.name in p.native:
            out.append((f.line, f"fn {f.name}: " + ("native (llvm)" if native_available
                                                      else "VM (llvmlite is not installed)")))
        else:
            out.append((f.line, f"fn {f.name}: VM — {p.reasons.get(f.name, '')}"))
    return out


def explain_loops(module: ir.Module, p: Plan) -> list[tuple[int, str]]:
    """(line, text) for each loop nest and array expression: the intent recognised (or why a loop
    shaped like one was not), the variants that can run it, and where its loops run."""
    from typing import get_args

    from noodle.ir.walk import walk

    # loops moved out of their function (outlined, or a nest split across cores) are explained as
    # loops of the function they came from, running where the function they now live in runs
    outlined = {f.name: f for f in module.functions if f.name.startswith(("__loop_", "__chunk_"))}
    out: list[tuple[int, str]] = []
    for f in module.functions:
        if f.kind not in ("fn", "method", "init", "test"):
            continue
        owner = f.display.split(" (")[0]
        # an outlined loop is explained where it runs: as the loop of the function it came from
        native = f.name in p.native or (f.name in outlined and f.name in p.compiled)
        explained: set[int] = set()  # statements already explained as part of a fused expression
        for s in f.body:
            for n in walk(s):
                if isinstance(n, ir.If) and _is_split(n):
                    out.append((n.line, f"loop nest in {owner}: split across the cores in native code when every "
                                        "index stays in bounds, the arrays it writes share no memory with the "
                                        f"others and the work is at least {variants.THRESHOLDS['map.parallel']} "
                                        "array accesses; else on one core"))
                elif isinstance(n, ir.If) and n.intent.startswith("opencl."):
                    out.append((n.line, f"loop nest in {owner}: {variants.name(n.intent)} — "
                                + next(v.describe() for v in variants.REGISTRY[n.intent[7:]] if v.backend == "opencl")
                                + "; else as below"))
                elif isinstance(n, ir.If) and n.intent:
                    out.append((n.line, f"loop nest in {owner}: {variants.name(n.intent)} recognised — "
                                + "; else ".join(v.describe() for v in variants.REGISTRY[n.intent]
                                                 if v.safe is None)))  # (a fused expression's variant is not a loop's)
                elif isinstance(n, ir.ForRange) and n.intent != "nested" or isinstance(n, ir.While):
                    out.append((n.line, _explain_loop(f, n, owner, native, p)))
                if isinstance(n, get_args(ir.Stmt)) and id(n) not in explained:
                    out += [(line, f"array expression in {owner}: {text}")
                            for line, text in _explain_arrays(n, explained)]
    return out


def _is_split(s: ir.If) -> bool:
    """Is `s` the dispatch of a nest split across cores (noodle.ir.passes.parallel)?"""
    from noodle.ir.walk import walk

    return any(isinstance(n, ir.CallBuiltin) and n.name == "parallel.worth" for n in walk(s.cond))


#: the explicit array operations that are intents by name: what runs them
_EXPLICIT = {
    "array.matmul": "matrix product (`@`, `matmul`) — BLAS (numpy.matmul); int matrices checked for overflow",
    "array.dot": "dot product (`dot`) — BLAS (numpy.dot); int vectors checked for overflow",
    "array.sum.float": "reduction (`sum`) — NumPy, one pass (pairwise summation)",
    "array.sum.int": "reduction (`sum`) — NumPy, one pass; checked for overflow",
    "array.mean": "reduction (`mean`) — NumPy, one pass",
}


def _explain_arrays(s: ir.Stmt, explained: set[int]) -> list[tuple[int, str]]:
    """The array expressions of one statement (not of statements nested in it): fused, or how many
    NumPy passes they take."""
    from typing import get_args

    from noodle.ir.intents.expressions import ELEMENTWISE
    from noodle.ir.walk import children, walk

    def ops(e: ir.Node) -> list[ir.Node]:
        return [x for x in walk(e) if isinstance(x, ir.CallBuiltin) and x.name in ELEMENTWISE]

    if isinstance(s, ir.If) and isinstance(s.cond, ir.CallBuiltin) and s.cond.name == "array.fuse_fits":
        written = s.otherwise[0]  # the chain as written: NumPy's passes when the guard says no
        explained.add(id(written))
        fused = next(v for v in variants.REGISTRY["map"] if v.guard == s.cond.name)
        return [(s.line, f"elementwise map of {len(ops(written))} operations fused — {fused.describe()}")]
    if isinstance(s, (ir.If, ir.While, ir.ForRange, ir.ForEach, ir.TryCatch)):
        roots: list[ir.Node] = [c for c in children(s) if not isinstance(c, get_args(ir.Stmt))]  # its own expressions
    else:
        roots = [s]
    out = []
    inner: set[int] = set()
    for root in roots:
        for n in walk(root):
            if isinstance(n, ir.CallBuiltin) and n.name == "array.sum_of_products":
                fused = next(v for v in variants.REGISTRY["dot"] if v.run == n.name)
                out.append((n.line, f"sum of a product fused into a dot product — {fused.describe()}"))
            elif isinstance(n, ir.CallBuiltin) and n.name in _EXPLICIT:
                out.append((n.line, _EXPLICIT[n.name]))
            elif isinstance(n, ir.CallBuiltin) and n.name in ELEMENTWISE and id(n) not in inner:
                chain = ops(n)
                inner.update(id(x) for x in chain)
                if len(chain) > 1:
                    out.append((n.line, f"elementwise map of {len(chain)} operations, not fused — NumPy, one pass "
                                        "and one temporary array per operation (a chain is fused when it assigns "
                                        "a variable and only adds, subtracts, multiplies and negates arrays, "
                                        "variables and constants of one element type)"))
    return out


def _explain_loop(f: ir.Function, n: "ir.ForRange | ir.While", owner: str, native: bool, p: Plan) -> str:
    kind = "for loop" if isinstance(n, ir.ForRange) else "while loop"
    what = ""
    if isinstance(n, ir.ForRange) and n.intent:
        label = "reduction" if n.intent in variants.REDUCTIONS else variants.name(n.intent)
        what = f"{label}: {n.note}" if n.note else label
    elif isinstance(n, ir.ForRange) and n.note:
        what = n.note
    if not native:
        where = f"VM — {p.reasons.get(f.name, 'not compiled')}"
    else:
        where = "native (llvm)"
        loop = n
        while isinstance(loop, ir.ForRange):
            # a recognised nest is one line: its inner loop's versions are said here too
            arrays = sorted({f.local_names[x.args[0].slot]  # type: ignore[union-attr]
                             for x, _ in in_bounds_accesses(loop)})
            if arrays:
                inner = " (inner loop)" if loop is not n else ""
                where += f"; bounds-check-free version{inner} when the range fits " + ", ".join(
                    f"`{a}`" for a in arrays)
            nested = loop.body[0] if len(loop.body) == 1 else None
            loop = nested if isinstance(nested, ir.ForRange) and nested.intent == "nested" else None
    return f"{kind} in {owner}: " + (f"{what} — {where}" if what else where)
