"""Vector math for functions marked `@vector_math`: glibc's libmvec called from vectorised loops.

Native code normally calls the C library's scalar `sin`, `exp` ... (noodle.backends.llvm.mathlib),
so its results are the VM's to the bit; a loop calling one cannot be vectorised.  `@vector_math`
allows a few ulps of difference in exchange: the function's math calls go through private symbols
(`nd_vmath_sin` ...) that are the same scalar functions, but which, when the machine code is made
(:func:`prepare`, at link time: the host's vector ISA and the library are known only there), get

- `memory(none)`, so LLVM may move and vectorise them (they only set `errno`, which nothing reads);
- the `vector-function-abi-variant` attribute naming libmvec's variants (`_ZGVdN4v_sin`: AVX2, four
  lanes; `_ZGVeN8v_sin`: AVX-512, eight; `_ZGVbN2v_sin`: SSE2, two), declared in the module and kept
  in `@llvm.compiler.used` (LangRef's rule for the attribute), so LLVM's loop vectoriser calls the
  vector function for a vector of iterations and the scalar one for the rest.

The variants are glibc's x86-64 vector ABI (libmvec, glibc >= 2.22; tan, the inverse functions and
atan2 since 2.35); each symbol is looked up in the library itself, and only those found are named.
Where the library, or an x86-64 CPU, is missing, nothing is rewritten: the calls stay scalar (and
exact), and `--explain` says why.  `--mode safe` (exact) leaves them scalar too.

A loop's math errors would be early exits, which the vectoriser cannot take; noodle.backends.llvm.lower
defers them to the end of each strip of iterations in a `@vector_math` function that can be re-run
(the VM then reports the exact error, see `deferrable`).
"""
from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass
from typing import Any

#: the math functions with a libmvec variant, and their number of arguments (the libm ones native
#: code calls, noodle.backends.llvm.mathlib.LIBM; sqrt and fabs are single instructions already)
VECTOR_FUNCTIONS = {"sin": 1, "cos": 1, "tan": 1, "asin": 1, "acos": 1, "atan": 1, "exp": 1, "log": 1,
                    "atan2": 2, "pow": 2}

#: x86-64 vector ABI ISAs, widest first: (mangling letter, lanes of double, the CPU feature it
#: needs, its name for --explain); per width only the best the host has is offered
ISAS = (("e", 8, "avx512f", "AVX-512"), ("d", 4, "avx2", "AVX2"), ("c", 4, "avx", "AVX"), ("b", 2, "sse2", "SSE2"))

#: where the library is looked for when the dynamic loader does not find it by its soname
PATHS = ("libmvec.so.1", "/lib/x86_64-linux-gnu/libmvec.so.1", "/usr/lib/x86_64-linux-gnu/libmvec.so.1",
         "/lib64/libmvec.so.1", "/usr/lib64/libmvec.so.1")

#: the attribute group numbers the rewritten declarations use (llvmlite writes attributes inline)
_GROUP_BASE = 9000


def symbol(name: str) -> str:
    """The private symbol a `@vector_math` function calls the C library's `name` through."""
    return f"nd_vmath_{name}"


def vector_symbol(isa: str, lanes: int, name: str) -> str:
    """libmvec's name of `name` for `lanes` doubles in `isa` (unmasked, vector arguments)."""
    return f"_ZGV{isa}N{lanes}{'v' * VECTOR_FUNCTIONS[name]}_{name}"


@dataclass(frozen=True)
class Library:
    """libmvec as this process found it: where, the ISAs the host runs, and each found variant's address."""

    path: str
    isas: tuple[tuple[str, int, str], ...]  # (letter, lanes, name) offered, one per width
    addresses: dict[str, int]  # vector symbol -> address

    def variants(self, name: str) -> list[tuple[str, int, str]]:
        """(letter, lanes, vector symbol) of `name` this host can call."""
        return [(isa, lanes, vector_symbol(isa, lanes, name)) for isa, lanes, _ in self.isas
                if vector_symbol(isa, lanes, name) in self.addresses]


_found: "Library | None | str" = ""  # "" not looked for yet; None: none (see `unavailable`)
_why_not = ""


def _host_isas() -> tuple[tuple[str, int, str], ...]:
    import llvmlite.binding as llvm

    if not llvm.get_default_triple().startswith("x86_64"):
        return ()
    features = {k for k, on in llvm.get_host_cpu_features().items() if on}
    out: list[tuple[str, int, str]] = []
    for isa, lanes, feature, shown in ISAS:
        if feature in features and all(lanes != have for _, have, _ in out):
            out.append((isa, lanes, shown))
    return tuple(out)


def _open() -> "tuple[str, Any] | None":
    """(path, the library) of libmvec, or None.  The soname first (the dynamic loader's own search),
    then the usual paths, then `ctypes.util.find_library` (slow: it runs ldconfig)."""
    import ctypes.util

    found = ctypes.util.find_library  # looked up here, so a test can make the search find nothing
    for path in PATHS:
        try:
            return path, ctypes.CDLL(path)
        except OSError:
            continue
    name = found("mvec")
    if name:
        try:
            return name, ctypes.CDLL(name)
        except OSError:
            return None
    return None


def library() -> "Library | None":
    """libmvec with the variants this host can call, loaded once per process; None when there is
    none (not x86-64, no library, no variant found): :func:`unavailable` says why."""
    global _found, _why_not
    if _found != "":
        return _found  # type: ignore[return-value]
    _found = None
    isas = _host_isas()
    if not isas:
        _why_not = "not an x86-64 host (libmvec's variants here are x86-64's)"
        return None
    opened = _open()
    if opened is None:
        _why_not = "glibc's libmvec was not found (the math calls stay scalar)"
        return None
    path, lib = opened
    addresses: dict[str, int] = {}
    for name in VECTOR_FUNCTIONS:
        for isa, lanes, _ in isas:
            fn = getattr(lib, vector_symbol(isa, lanes, name), None)
            if fn is not None:
                addresses[vector_symbol(isa, lanes, name)] = ctypes.cast(fn, ctypes.c_void_p).value  # type: ignore[assignment]
    if not addresses:
        _why_not = f"{path} has none of the variants this CPU runs"
        return None
    _found = Library(path, isas, addresses)
    return _found


def unavailable() -> str:
    """Why vector math is not used in this process ("" when it is)."""
    return "" if library() is not None else _why_not


def reset() -> None:
    """Look for the library again on next use (tests simulate a machine without it)."""
    global _found, _why_not
    _found, _why_not = "", ""


def add_symbols() -> None:
    """Bind the vector functions for the JIT (each found in libmvec), and the scalar `nd_vmath_*`
    symbols to the C library's functions (noodle.backends.llvm.mathlib's)."""
    import llvmlite.binding as llvm

    from noodle.backends.llvm import mathlib

    for private, address in mathlib.addresses().items():
        llvm.add_symbol(symbol(private[len(mathlib.symbol("")):]), address)
    lib = library()
    if lib is not None:
        for name, address in lib.addresses.items():
            llvm.add_symbol(name, address)


_DECLARE = re.compile(r'^declare double @"nd_vmath_(\w+)"\(([^)]*)\)\s*$', re.M)


def prepare(llvm_ir: str) -> str:
    """The module's text with each `nd_vmath_*` declaration given `memory(none)` and its libmvec
    variants (declared, and kept in `@llvm.compiler.used`); unchanged without the library."""
    lib = library()
    if lib is None or "nd_vmath_" not in llvm_ir:
        return llvm_ir
    groups: list[str] = []
    declared: list[str] = []

    def rewrite(m: "re.Match[str]") -> str:
        name = m.group(1)
        variants = lib.variants(name) if name in VECTOR_FUNCTIONS else []
        if not variants:
            return m.group(0)
        group = _GROUP_BASE + len(groups)
        args = "v" * VECTOR_FUNCTIONS[name]
        mapping = ",".join(f"_ZGV{isa}N{lanes}{args}_{symbol(name)}({vsym})" for isa, lanes, vsym in variants)
        groups.append(f'attributes #{group} = {{ nounwind willreturn memory(none) '
                      f'"vector-function-abi-variant"="{mapping}" }}')
        for _, lanes, vsym in variants:
            vec = f"<{lanes} x double>"
            declared.append(f'declare {vec} @"{vsym}"({", ".join([vec] * VECTOR_FUNCTIONS[name])})')
        return f"{m.group(0).rstrip()} #{group}"

    text = _DECLARE.sub(rewrite, llvm_ir)
    if not declared:
        return llvm_ir
    used = ", ".join(f'ptr @"{d.split("@", 1)[1].split("(", 1)[0].strip(chr(34))}"' for d in declared)
    return "\n".join([text, *declared,
                      f'@llvm.compiler.used = appending global [{len(declared)} x ptr] [{used}], '
                      'section "llvm.metadata"', *groups, ""])


def called(llvm_ir: str, names: list[str]) -> dict[str, list[str]]:
    """{function symbol: the libmvec variants its optimised code calls}, for `names` (symbols of
    defined functions) in an optimised module's text."""
    out: dict[str, list[str]] = {}
    current = None
    for line in llvm_ir.splitlines():
        if line.startswith("define "):
            m = re.search(r'@"?([\w.]+)"?\(', line)
            current = m.group(1) if m else None
        elif line.startswith("}"):
            current = None
        elif current in names and "@_ZGV" in line:
            for v in re.findall(r"@\"?(_ZGV\w+)\"?\(", line):
                if v not in out.setdefault(current, []):
                    out[current].append(v)
    return out


#: the checks a `@vector_math` loop may defer: the math module's errors (noodle.backends.llvm.mathlib)
DEFERRED_KINDS = ("MathDomain.", "MathOverflow.")


def deferrable(f: Any, body: list[Any]) -> bool:
    """May the math checks of this innermost loop body of `f` wait for the end of its strip?

    Only when nothing but the error could tell: `f` is `@vector_math` and stores into no Array it
    was given (a failed call is re-run in the VM, which raises the exact error at the exact
    iteration: noodle.backends.llvm.link), and the body neither leaves the loop early (`break`,
    `return`) nor calls a function (whose own failure would come first)."""
    from noodle.ir import nodes as ir
    from noodle.ir.native_plan import writes_arrays
    from noodle.ir.walk import walk

    if "vector_math" not in f.attributes or writes_arrays(f):
        return False
    return not any(isinstance(n, (ir.Break, ir.Return, ir.Call)) for s in body for n in walk(s))


def _math_used(f: Any) -> list[str]:
    """The functions of VECTOR_FUNCTIONS that `f` calls (math.log2arg is two logs)."""
    from noodle.ir import nodes as ir
    from noodle.ir.walk import walk

    names = {n.name[5:] for s in f.body for n in walk(s) if isinstance(n, ir.CallBuiltin) and n.name.startswith("math.")}
    names = {"log" if n == "log2arg" else n for n in names}
    return sorted(n for n in names if n in VECTOR_FUNCTIONS)


def explain(module_ir: Any, llvm_ir: str, native: "list[str] | tuple[str, ...]") -> list[tuple[int, str]]:
    """`noodlec --explain`'s lines for the `@vector_math` functions of a module: the vector math
    their optimised machine code calls (the module is optimised here, as the JIT would), or why none.

    `llvm_ir` is the module's native part as lowered, `native` the functions that run natively."""
    from noodle.backends.llvm.lower import symbol as entry_symbol

    marked = [f for f in module_ir.functions if "vector_math" in f.attributes]
    if not marked:
        return []
    out: list[tuple[int, str]] = []
    why = unavailable()
    optimised = ""
    if not why and llvm_ir:
        import llvmlite.binding as llvm

        from noodle.backends.llvm import jit

        tm = jit._target_machine()
        mod = llvm.parse_assembly(prepare(llvm_ir))
        mod.triple, mod.data_layout = tm.triple, str(tm.target_data)
        jit.optimise(mod)
        optimised = str(mod)
    lanes = {vector_symbol(isa, n, name): (n, shown) for isa, n, shown in (library().isas if not why else ())  # type: ignore[union-attr]
             for name in VECTOR_FUNCTIONS}
    for f in marked:
        head = f"fn {f.name}: @vector_math"
        if f.name not in native:
            out.append((f.line, f"{head} has no effect: the function runs in the VM"))
            continue
        if why:
            out.append((f.line, f"{head} not used: {why}"))
            continue
        sym = entry_symbol(f.name)
        calls = called(optimised, [sym, sym + "_impl", sym + "_py"])
        found = sorted({v for vs in calls.values() for v in vs})
        if not found:
            maths = ", ".join(_math_used(f)) or "no math function with a vector variant"
            out.append((f.line, f"{head}: no loop calls vector math (it calls {maths}; scalar, exact)"))
            continue
        by_name: dict[str, list[str]] = {}
        for v in found:
            name = v.split("_", 2)[2]
            n, shown = lanes.get(v, (0, "?"))
            by_name.setdefault(name, []).append(f"{n} lanes ({shown})")
        text = "; ".join(f"{name}: {', '.join(ws)}" for name, ws in sorted(by_name.items()))
        out.append((f.line, f"{head}: its loops call libmvec's vector math ({text}), within a few ulps "
                            "of the VM's results"))
    return out
