"""Candidates from the intent mapping: library functions whose meaning is a Noodle operation.

Each entry maps a qualified Python name, for the argument types of a call, to the body of a Noodle
function — an intent (`dot`, `matmul`, `sum`, `mean`, elementwise `+ - *`, `sqrt`/`exp`/`log` of
an Array) or a `math` function — written so that edge cases mean what the library's do: NumPy's
`mean` of nothing is nan, its `min` propagates nan and refuses an empty array, its scalar `sqrt`
of a negative is nan where `math.sqrt` raises.  Validation still decides.

An error the library raises is thrown as `Error("ValueError: ...")`: the Python exception type
first, so that serving re-raises the same Python exception and validation compares kinds.
"""
from __future__ import annotations

from dataclasses import dataclass

from noodle.ale.patterns import noodle_types


@dataclass
class IntentSource:
    source: str
    entry: str
    params: list[str]
    result: str
    intent: str


def _array(t: str) -> tuple[str, int] | None:
    if not t.startswith("Array<"):
        return None
    elem, nd = t[6:-1].split(",")
    return elem.strip(), int(nd)


def _numeric(t: str) -> bool:
    return t in ("int", "float")


def _body(name: str, types: list[str]) -> tuple[str, str, str] | None:
    """(body, result type, intent) for a call of `name` with Noodle argument types `types`."""
    n = len(types)
    arrays = [_array(t) for t in types]
    short = name.split(".")[-1]
    if name in ("numpy.dot", "numpy.matmul") and n == 2 and all(arrays):
        (ea, na), (eb, nb) = arrays  # type: ignore[misc]
        if ea != eb or ea not in ("float", "int"):
            return None
        if na == nb == 1:
            return "return dot(a0, a1)", ea, "dot"
        if na == 2 and nb in (1, 2):
            return "return matmul(a0, a1)", f"Array<{ea}, {nb}>", "matmul"
        return None
    if name in ("numpy.sum", "numpy.mean") and types == ["List<float>"]:
        # NumPy converts the list to an array on every call, behind a few microseconds of Python
        # dispatch; the sum it then takes is its pairwise summation, which `ale_pairwise` follows
        # step by step for short lists (the same result to the bit); long ones go to the array
        # sum (a list's conversion then costs what NumPy's does)
        if short == "sum":
            return ("if len(a0) > 32 { return sum(array(a0)) }\n    return 0.0 + ale_pairwise(a0, 0, len(a0))",
                    "float", "sum")
        return ("if len(a0) == 0 { return math.nan }\n    if len(a0) > 32 { return mean(array(a0)) }\n"
                "    return (0.0 + ale_pairwise(a0, 0, len(a0))) / float(len(a0))", "float", "mean")
    if name in ("numpy.sum", "numpy.mean") and n == 1 and arrays[0]:
        elem, nd = arrays[0]
        if elem not in ("float", "int"):
            return None
        if short == "sum":
            return "return sum(a0)", elem, "sum"
        empty = "len(a0) == 0" if nd == 1 else "len(a0) == 0 or a0.shape[1] == 0"
        return f"if {empty} {{ return math.nan }}\n    return mean(a0)", "float", "mean"
    if name in ("numpy.min", "numpy.max", "numpy.amin", "numpy.amax") and n == 1 and arrays[0] \
            and arrays[0][1] == 1 and arrays[0][0] in ("float", "int"):
        elem = arrays[0][0]
        cmp = "<" if short in ("min", "amin") else ">"
        what = "minimum" if cmp == "<" else "maximum"
        nan_check = "if x != x { return x }\n        " if elem == "float" else ""
        body = (f'if len(a0) == 0 {{ throw Error("ValueError: zero-size array to reduction operation {what} '
                f'which has no identity") }}\n'
                f"    var m = a0[0]\n    for i in 0..len(a0) {{\n        let x = a0[i]\n        {nan_check}"
                f"if x {cmp} m {{ m = x }}\n    }}\n    return m")
        return body, elem, "reduction"
    if name in ("numpy.add", "numpy.subtract", "numpy.multiply") and n == 2:
        op = {"add": "+", "subtract": "-", "multiply": "*"}[short]
        if all(arrays) and arrays[0] == arrays[1] and arrays[0][0] == "float":  # type: ignore[index]
            return f"return a0 {op} a1", types[0], "map"
        if types == ["float", "float"]:
            return f"return a0 {op} a1", "float", "scalar"
        return None
    if name in ("numpy.sqrt", "numpy.exp", "numpy.log") and n == 1:
        if arrays[0] and arrays[0][0] == "float":
            return f"return {short}(a0)", types[0], "map"
        if types[0] == "float":
            if short == "sqrt":
                return "if a0 < 0.0 or a0 != a0 { return math.nan }\n    return math.sqrt(a0)", "float", "scalar"
            if short == "exp":
                return "if a0 > 709.782712893384 { return math.inf }\n    return math.exp(a0)", "float", "scalar"
            return ("if a0 == 0.0 { return -math.inf }\n    if a0 < 0.0 or a0 != a0 { return math.nan }\n"
                    "    return math.log(a0)"), "float", "scalar"
        return None
    if name in ("math.sqrt", "math.exp", "math.log", "math.sin", "math.cos") and n == 1 and _numeric(types[0]):
        arg = "a0" if types[0] == "float" else "float(a0)"
        return f"return math.{short}({arg})", "float", "scalar"
    return None


#: NumPy's pairwise summation of float64 (numpy/_core/src/umath/loops_utils.h.src, `pairwise_sum`):
#: below 8 items a plain loop; up to 128, eight running sums combined as ((0+1)+(2+3))+((4+5)+(6+7))
#: and the rest added one by one; above, the two halves (the first a multiple of 8 long) summed
#: apart.  `add.reduce` starts from its identity, hence the `0.0 +` at the call.
PAIRWISE = """
fn ale_pairwise(a: List<float>, lo: int, n: int) -> float {
    if n < 8 {
        var res = 0.0
        for i in lo..lo + n {
            res += a[i]
        }
        return res
    }
    if n <= 128 {
        var r0 = a[lo]
        var r1 = a[lo + 1]
        var r2 = a[lo + 2]
        var r3 = a[lo + 3]
        var r4 = a[lo + 4]
        var r5 = a[lo + 5]
        var r6 = a[lo + 6]
        var r7 = a[lo + 7]
        let whole = lo + n - n % 8
        var i = lo + 8
        while i < whole {
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        }
        var res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < lo + n {
            res += a[i]
            i += 1
        }
        return res
    }
    var half = n // 2
    half -= half % 8
    return ale_pairwise(a, lo, half) + ale_pairwise(a, lo + half, n - half)
}
"""


#: the library functions the mapping knows (for `noodle ale status` and the docs)
MAPPED = ("numpy.dot", "numpy.matmul", "numpy.sum", "numpy.mean", "numpy.min", "numpy.max", "numpy.add",
          "numpy.subtract", "numpy.multiply", "numpy.sqrt", "numpy.exp", "numpy.log", "math.sqrt", "math.exp",
          "math.log", "math.sin", "math.cos")


def intent_source(name: str, pattern: str) -> IntentSource | None:
    """The Noodle replacement the mapping gives for calls of `name` matching `pattern`, if any."""
    types = noodle_types(pattern)
    if types is None:
        return None
    found = _body(name, types)
    if found is None:
        return None
    body, result, intent = found
    entry = "ale_" + name.replace(".", "_")
    params = ", ".join(f"a{i}: {t}" for i, t in enumerate(types))
    source = (f"// intent mapping for {name}({pattern}): {intent}\nimport math\n\n"
              f"fn {entry}({params}) -> {result} {{\n    {body}\n}}\n")
    if "ale_pairwise(" in body:
        source += PAIRWISE
    return IntentSource(source, entry, types, result, intent)
