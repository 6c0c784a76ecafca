"""A kernel spec (noodle.ir.kernels) rendered to OpenCL C.

Each intent has its data-parallel design:

    map, stencil   one work-item per point of the nest's 1-D or 2-D range
    reductions     each work-item reduces a contiguous chunk in order, the work-group combines its
                   items in a tree in local memory (neighbours first, so every partial covers a
                   contiguous range), and a final pass combines the groups' partials the same way
    dot            a reduction (a float sum of products)
    scan           work-efficient, multi-block: each work-item scans its chunk, the group scans its
                   items' totals, one group scans the groups' totals, and a last pass adds the offsets
    histogram      counts in local memory (32-bit local atomics), then added to the global bins
                   (64-bit atomics)
    gemm           a recognised contraction's matrix product (its BLAS call, transposes, alpha and
                   beta): one work-item per element of `c` on CPU devices; tiles of op(a) and op(b)
                   in local memory on the others
    gemv           its matrix-vector product: one work-item per element of `y`
    jacobi         the stencil as a map, run sweep after sweep between two device buffers
                   (double-buffered: no copy-back per sweep; see noodle.backends.opencl.runtime)

What the loops would raise on — an index out of bounds, an integer overflow, a division by zero,
a math domain error, a NaN in a float min or max — sets an error flag instead; the host then runs
the loops as written, which raise exactly as they would have.  Integer sums keep, besides their
value, the greatest and least running sum of their range: the loops raise on overflow of any
running sum, not only the last, and so does the kernel (the host checks them with the
accumulator's start value).  Float arithmetic is not contracted (no fused multiply-add) and
single-precision division and square root are correctly rounded (build options), so maps and
stencils compute what the loops compute, to the bit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from noodle.ir import nodes as ir
from noodle.ir.kernels import ELEMENT_TYPES, KernelSpec, _kind, value_type
from noodle.ir.types import BOOL, F32, FLOAT, I32, INT, ArrayT, Type, prune
from noodle.ir.walk import walk

#: build options: what the loops compute, to the bit, for + - * / and sqrt
BUILD_OPTIONS = ("-cl-fp32-correctly-rounded-divide-sqrt",)

PRELUDE = r"""
#pragma OPENCL FP_CONTRACT OFF
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable
#define ERR (*err = 1)
inline long nd_ix(long i, long n, __global int* err) {
    if (i < 0) i += n;
    if (i < 0 || i >= n) { ERR; return 0; }
    return i;
}
inline long nd_add(long a, long b, __global int* err) {
    long r = (long)((ulong)a + (ulong)b);
    if (((a ^ r) & (b ^ r)) < 0) ERR;
    return r;
}
inline long nd_sub(long a, long b, __global int* err) {
    long r = (long)((ulong)a - (ulong)b);
    if (((a ^ b) & (a ^ r)) < 0) ERR;
    return r;
}
inline long nd_mul(long a, long b, __global int* err) {
    long lo = (long)((ulong)a * (ulong)b);
    if (mul_hi(a, b) != (lo >> 63)) ERR;
    return lo;
}
inline long nd_neg(long a, __global int* err) { if (a == LONG_MIN) ERR; return -a; }
inline long nd_abs(long a, __global int* err) { if (a == LONG_MIN) ERR; return a < 0 ? -a : a; }
inline long nd_floordiv(long a, long b, __global int* err) {
    if (b == 0 || (a == LONG_MIN && b == -1)) { ERR; return 0; }
    long q = a / b, r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}
inline long nd_mod(long a, long b, __global int* err) {
    if (b == 0) { ERR; return 0; }
    if (b == -1) return 0;
    long r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
inline int nd_i32(long v, __global int* err) { if (v < INT_MIN || v > INT_MAX) ERR; return (int)v; }
inline int nd_i32_floordiv(int a, int b, __global int* err) { return nd_i32(nd_floordiv(a, b, err), err); }
inline int nd_i32_mod(int a, int b, __global int* err) { return (int)nd_mod(a, b, err); }
inline double nd_div(double a, double b, __global int* err) { if (b == 0.0) ERR; return a / b; }
inline float nd_fdiv(float a, float b, __global int* err) { if (b == 0.0f) ERR; return a / b; }
inline long nd_toint(double x, __global int* err) {
    if (isnan(x) || !(x >= -9.223372036854775808e18 && x < 9.223372036854775808e18)) { ERR; return 0; }
    return (long)x;
}
inline double nd_sqrt(double x, __global int* err) { if (x < 0.0) ERR; return sqrt(x); }
inline double nd_log(double x, __global int* err) { if (x <= 0.0) ERR; return log(x); }
inline double nd_exp(double x, __global int* err) { double r = exp(x); if (isinf(r) && !isinf(x)) ERR; return r; }
inline double nd_sin(double x, __global int* err) { if (isinf(x)) ERR; return sin(x); }
inline double nd_cos(double x, __global int* err) { if (isinf(x)) ERR; return cos(x); }
"""


class Unrenderable(Exception):
    """A spec this renderer cannot turn into a kernel (the loops run instead)."""


def ctype(t: Type) -> str:
    t = prune(t)
    if isinstance(t, ArrayT):
        return ELEMENT_TYPES[t.elem]
    if t not in ELEMENT_TYPES:
        raise Unrenderable(f"a value of type {t}")
    return ELEMENT_TYPES[t]


def literal(value: object, t: Type) -> str:
    t = prune(t)
    if t == BOOL:
        return "true" if value else "false"
    if t in (FLOAT, F32):
        x = float(value)  # type: ignore[arg-type]
        suffix = "f" if t == F32 else ""
        if x != x:
            return f"(({ctype(t)})NAN)"
        if x in (float("inf"), float("-inf")):
            return f"(({ctype(t)}){'-' if x < 0 else ''}INFINITY)"
        return f"(({ctype(t)}){x.hex()}{suffix})"
    if t == I32:
        return f"((int){int(value)})"  # type: ignore[call-overload]
    v = int(value)  # type: ignore[call-overload]
    return "LONG_MIN" if v == -(2 ** 63) else f"{v}L"


@dataclass
class Arrays:
    """How a kernel names an array and its shape."""

    dims: dict[int, int] = field(default_factory=dict)  # slot -> number of dimensions

    @staticmethod
    def name(slot: int) -> str:
        return f"a{slot}"

    @staticmethod
    def length(slot: int, d: int) -> str:
        return f"a{slot}_n{d}"


class Body:
    """Renders the statements and expressions of one iteration.

    `loop_vars` maps loop-variable slots to the C expression of their value; `reduce` maps an
    accumulator's slot to how its update is rendered (the reduction templates pass it)."""

    def __init__(self, spec: KernelSpec, loop_vars: dict[int, str],
                 update: "dict[int, str] | None" = None, replace: "dict[int, str] | None" = None) -> None:
        self.spec = spec
        self.loop_vars = loop_vars
        self.update = update or {}  # accumulator slot -> C statement template with {e}
        self.replace = replace or {}  # id(array.set node) -> C statement template with {ix} and {v}
        self.dims = {v.slot: prune(value_type(v)).ndim for v in spec.values  # type: ignore[attr-defined]
                     if isinstance(prune(value_type(v)), ArrayT)}

    def var(self, slot: int) -> str:
        if slot in self.loop_vars:
            return self.loop_vars[slot]
        if slot in self.dims:
            return Arrays.name(slot)
        return f"v{slot}"

    # -- statements
    def stmts(self, body: list[ir.Stmt], indent: str) -> str:
        return "".join(self.stmt(s, indent) for s in body)

    def stmt(self, s: ir.Stmt, indent: str) -> str:
        if isinstance(s, ir.LocalSet):
            if s.slot in self.update:
                return indent + self.update[s.slot].replace("{e}", self.expr(self.operand(s))) + "\n"
            return f"{indent}{self.var(s.slot)} = {self.expr(s.value)};\n"
        if isinstance(s, ir.ExprStmt):
            e = s.expr
            if isinstance(e, ir.CallBuiltin) and e.name == "array.set":
                ix = self.index(e.args[0], e.args[1:-1])  # type: ignore[arg-type]
                if id(e) in self.replace:
                    return indent + self.replace[id(e)].replace("{ix}", ix).replace("{v}", self.expr(e.args[-1])) + "\n"
                return f"{indent}{Arrays.name(e.args[0].slot)}[{ix}] = {self.expr(e.args[-1])};\n"  # type: ignore[attr-defined]
            return f"{indent}(void)({self.expr(e)});\n"
        if isinstance(s, ir.If):
            out = f"{indent}if ({self.expr(s.cond)}) {{\n{self.stmts(s.then, indent + '    ')}{indent}}}"
            if s.otherwise:
                out += f" else {{\n{self.stmts(s.otherwise, indent + '    ')}{indent}}}"
            return out + "\n"
        raise Unrenderable(f"a {type(s).__name__} in the loop body")

    def operand(self, s: ir.LocalSet) -> ir.Expr:
        """The element an accumulation combines: `e` of `s = s + e`, `s = min(s, e)`, ..."""
        v = s.value
        parts = [v.a, v.b] if isinstance(v, ir.Binary) else list(v.args) if isinstance(v, ir.CallBuiltin) else []
        others = [p for p in parts if not (isinstance(p, ir.LocalGet) and p.slot == s.slot)]
        if len(others) != 1:
            raise Unrenderable("an accumulation that is not `s = s OP e`")
        return others[0]

    def index(self, arr: ir.Expr, ix: list[ir.Expr]) -> str:
        slot = arr.slot  # type: ignore[attr-defined]
        if len(ix) == 1:
            return f"nd_ix({self.expr(ix[0])}, {Arrays.length(slot, 0)}, err)"
        return (f"nd_ix({self.expr(ix[0])}, {Arrays.length(slot, 0)}, err) * {Arrays.length(slot, 1)} + "
                f"nd_ix({self.expr(ix[1])}, {Arrays.length(slot, 1)}, err)")

    # -- expressions
    def expr(self, e: ir.Expr) -> str:
        if isinstance(e, ir.Const):
            return literal(e.value, e.ty)
        if isinstance(e, ir.LocalGet):
            return self.var(e.slot)
        if isinstance(e, ir.Unary):
            x = self.expr(e.x)
            if e.op == "int.neg":
                return f"nd_neg({x}, err)"
            if e.op == "float.neg":
                return f"(-{x})"
            if e.op == "not":
                return f"(!{x})"
            return f"((double){x})"  # int.to_float
        if isinstance(e, ir.Binary):
            return self.binary(e)
        if isinstance(e, ir.Logical):
            return f"({self.expr(e.a)} {'&&' if e.op == 'and' else '||'} {self.expr(e.b)})"
        if isinstance(e, ir.Cond):
            return f"({self.expr(e.cond)} ? {self.expr(e.then)} : {self.expr(e.otherwise)})"
        if isinstance(e, ir.Index):  # a.shape[k]
            return Arrays.length(e.obj.args[0].slot, int(e.index.value))  # type: ignore[attr-defined]
        if isinstance(e, ir.CallBuiltin):
            return self.native(e)
        raise Unrenderable(f"a {type(e).__name__}")

    def binary(self, e: ir.Binary) -> str:
        a, b, op = self.expr(e.a), self.expr(e.b), e.op
        checked = {"int.add": "nd_add", "int.sub": "nd_sub", "int.mul": "nd_mul", "int.floordiv": "nd_floordiv",
                   "int.mod": "nd_mod"}
        if op in checked:
            return f"{checked[op]}({a}, {b}, err)"
        plain = {"int.and": "&", "int.or": "|", "int.xor": "^", "float.add": "+", "float.sub": "-", "float.mul": "*",
                 "cmp.eq": "==", "cmp.ne": "!=", "cmp.lt": "<", "cmp.le": "<=", "cmp.gt": ">", "cmp.ge": ">="}
        if op in plain:
            return f"({a} {plain[op]} {b})"
        if op == "float.div":
            return f"nd_div({a}, {b}, err)"
        raise Unrenderable(f"`{op}`")

    def native(self, e: ir.CallBuiltin) -> str:
        name = e.name
        if name == "array.get":
            return f"{Arrays.name(e.args[0].slot)}[{self.index(e.args[0], e.args[1:])}]"  # type: ignore[attr-defined]
        if name in ("array.len", "len"):
            return Arrays.length(e.args[0].slot, 0)  # type: ignore[attr-defined]
        args = [self.expr(a) for a in e.args]
        simple = {"float.float": "{0}", "int.int": "{0}", "f32.f32": "{0}", "i32.i32": "{0}",
                  "abs.float": "fabs({0})", "math.fabs": "fabs({0})", "abs.int": "nd_abs({0}, err)",
                  "math.sqrt": "nd_sqrt({0}, err)", "math.exp": "nd_exp({0}, err)", "math.log": "nd_log({0}, err)",
                  "math.sin": "nd_sin({0}, err)", "math.cos": "nd_cos({0}, err)", "int.float": "nd_toint({0}, err)",
                  "f32.add": "({0} + {1})", "f32.sub": "({0} - {1})", "f32.mul": "({0} * {1})",
                  "f32.div": "nd_fdiv({0}, {1}, err)", "f32.neg": "(-{0})",
                  "i32.add": "nd_i32((long){0} + (long){1}, err)", "i32.sub": "nd_i32((long){0} - (long){1}, err)",
                  "i32.mul": "nd_i32((long){0} * (long){1}, err)", "i32.neg": "nd_i32(-(long){0}, err)",
                  "i32.floordiv": "nd_i32_floordiv({0}, {1}, err)", "i32.mod": "nd_i32_mod({0}, {1}, err)",
                  "float.to_f32": "((float){0})", "f32.to_float": "((double){0})", "int.to_i32": "nd_i32({0}, err)",
                  "i32.to_int": "((long){0})"}
        if name in simple:
            return simple[name].format(*args)
        if name in ("min2", "max2"):  # Python keeps the first of equals (and a NaN first)
            rel = "<" if name == "min2" else ">"
            return f"(({ctype(e.ty)})(({args[1]}) {rel} ({args[0]}) ? ({args[1]}) : ({args[0]})))"
        raise Unrenderable(f"`{name}`")


# ---------------------------------------------------------------- kernel signatures

def value_params(spec: KernelSpec, skip: "set[int] | None" = None) -> list[str]:
    """The C parameters for the spec's values: each array as a pointer and its lengths, each scalar."""
    out = []
    for v in spec.values:
        if skip and v.slot in skip:
            continue
        t = prune(value_type(v))
        if isinstance(t, ArrayT):
            out.append(f"__global {ctype(t)}* {Arrays.name(v.slot)}")
            out += [f"const long {Arrays.length(v.slot, d)}" for d in range(t.ndim)]
        else:  # kernels take no bool arguments: a bool comes as a char
            out.append(f"const {'char' if t == BOOL else ctype(t)} v{v.slot}")
    return out


def declare_locals(spec: KernelSpec, exclude: set[int], indent: str) -> str:
    """Private variables for the nest's temporaries (everything set inside it but loop variables)."""
    loop_vars = {n.slot for n in walk(spec.nest) if isinstance(n, ir.ForRange)}
    values = {v.slot for v in spec.values}
    out = ""
    for slot, v in sorted(spec.locals.items()):
        if slot in loop_vars or slot in values or slot in exclude:
            continue
        out += f"{indent}{ctype(value_type(v))} v{slot} = 0;\n"
    return out


def loops_of(nest: ir.ForRange) -> list[ir.ForRange]:
    """The nest's loops, outermost first (a perfect nest of one or two)."""
    out = [nest]
    while len(out[-1].body) == 1 and isinstance(out[-1].body[0], ir.ForRange):
        out.append(out[-1].body[0])
    return out


# ---------------------------------------------------------------- the designs

@dataclass
class Kernel:
    """Rendered source and what the host needs to run it."""

    source: str
    names: list[str]  # kernel functions, in the order the host runs them
    work_group: int = 0  # local size the reduction/scan/histogram kernels were written for
    tile: int = 0  # the side of the square work-groups a tiled kernel was written for (0: untiled)


def render_map(spec: KernelSpec, nest: ir.ForRange, name: str) -> str:
    """One work-item per point of the nest (the host runs the range innermost loop first)."""
    loops = loops_of(nest)
    if len(loops) > 2:
        raise Unrenderable("a nest of more than two loops")
    loop_vars = {lp.slot: f"i{d}" for d, lp in enumerate(loops)}
    body = Body(spec, loop_vars)
    params = value_params(spec) + [f"const long lo{d}" for d in range(len(loops))] + \
        [f"const long hi{d}" for d in range(len(loops))] + ["__global int* err"]
    # the innermost loop varies fastest: dimension 0 of the range (neighbouring items, neighbouring
    # elements).  The range is rounded up to whole work-groups of a fixed size (a driver like PoCL
    # compiles a kernel once per work-group size): the items past the end do nothing
    head = "".join(f"    const long i{d} = lo{d} + (long)get_global_id({len(loops) - 1 - d});\n"
                   for d in range(len(loops)))
    head += f"    if ({' || '.join(f'i{d} >= hi{d}' for d in range(len(loops)))}) return;\n"
    return (f"__kernel void {name}({', '.join(params)}) {{\n{head}"
            f"{declare_locals(spec, set(), '    ')}{body.stmts(loops[-1].body, '    ')}}}\n")


@dataclass
class Acc:
    """One accumulator of a reduction: how its private value starts, updates and combines."""

    slot: int
    kind: str  # sum, product, min, max
    ty: str  # C type
    integer: bool
    acc_first: bool  # `s = min(s, e)` (keep the earlier of equals) rather than `min(e, s)`

    def identity(self) -> str:
        if self.kind == "sum":
            return "0"
        if self.kind == "product":
            return "1"
        big = "INFINITY" if not self.integer else ("LONG_MAX" if self.ty == "long" else "INT_MAX")
        return big if self.kind == "min" else f"-{big}" if not self.integer else \
            ("LONG_MIN" if self.ty == "long" else "INT_MIN")

    def parts(self) -> list[str]:
        """An integer sum keeps its greatest and least running sums too (overflow of any raises)."""
        return ["s", "hi", "lo"] if self.kind == "sum" and self.integer else ["s"]


def accumulators(spec: KernelSpec) -> list[Acc]:
    out = []
    for slot in spec.results:
        t = prune(value_type(spec.locals[slot]))
        kind = _kind(spec.nest, slot)
        if kind not in ("sum", "product", "min", "max"):
            raise Unrenderable(f"the accumulator `{spec.locals[slot].name}` is not a sum, product, min or max")
        first = True
        for n in walk(spec.nest):
            if isinstance(n, ir.LocalSet) and n.slot == slot and isinstance(n.value, ir.CallBuiltin):
                a0 = n.value.args[0]
                first = isinstance(a0, ir.LocalGet) and a0.slot == slot
        out.append(Acc(slot, kind, ctype(t), t in (INT, I32), first))
    return out


def _update(acc: Acc, var: str) -> str:
    """The C statement adding element `{e}` to the private accumulator `var`."""
    if acc.kind == "sum" and acc.integer:
        add = "nd_add" if acc.ty == "long" else "nd_i32_add"
        return (f"{var}_s = {add}({var}_s, {{e}}, err); {var}_hi = max({var}_hi, {var}_s); "
                f"{var}_lo = min({var}_lo, {var}_s);")
    if acc.kind == "sum":
        return f"{var}_s = {var}_s + ({{e}});"
    if acc.kind == "product" and acc.integer:
        mul = "nd_mul" if acc.ty == "long" else "nd_i32_mul"
        return f"{{ {acc.ty} x_ = {{e}}; if (x_ == 0) ERR; {var}_s = {mul}({var}_s, x_, err); }}"
    if acc.kind == "product":
        return f"{var}_s = {var}_s * ({{e}});"
    return _pick(acc, f"{var}_s", "{e}")


def _pick(acc: Acc, left: str, right: str) -> str:
    """`left = min(left, right)` (or max) keeping, of equals, the one the loop would keep; a NaN
    flags the error (the loop's result would depend on where it lies)."""
    rel = "<" if acc.kind == "min" else ">"
    nan = "" if acc.integer else f"if (isnan(x_)) ERR; "
    keep_later = not acc.acc_first
    better = f"(x_ {rel}= {left})" if keep_later else f"(x_ {rel} {left})"
    return f"{{ {acc.ty} x_ = {right}; {nan}if {better} {left} = x_; }}"


def _combine(acc: Acc, left: str, right: str) -> str:
    """Fold the partial `right` (a later range) into `left` (the range before it)."""
    if acc.kind == "sum" and acc.integer:
        add = "nd_add" if acc.ty == "long" else "nd_i32_add"
        return (f"{left}_hi[l] = max({left}_hi[l], {add}({left}_s[l], {right}_hi[r], err)); "
                f"{left}_lo[l] = min({left}_lo[l], {add}({left}_s[l], {right}_lo[r], err)); "
                f"{left}_s[l] = {add}({left}_s[l], {right}_s[r], err);")
    if acc.kind == "sum":
        return f"{left}_s[l] = {left}_s[l] + {right}_s[r];"
    if acc.kind == "product" and acc.integer:
        mul = "nd_mul" if acc.ty == "long" else "nd_i32_mul"
        return f"{left}_s[l] = {mul}({left}_s[l], {right}_s[r], err);"
    if acc.kind == "product":
        return f"{left}_s[l] = {left}_s[l] * {right}_s[r];"
    return _pick(acc, f"{left}_s[l]", f"{right}_s[r]")


REDUCE_HELPERS = r"""
inline int nd_i32_add(int a, int b, __global int* err) { return nd_i32((long)a + (long)b, err); }
inline int nd_i32_mul(int a, int b, __global int* err) { return nd_i32((long)a * (long)b, err); }
"""


def render_reduce(spec: KernelSpec, wg: int) -> Kernel:
    """Two kernels: `partial` (each group's partial over contiguous chunks) and `final` (one group
    over the partials).  Partials are combined neighbours first, so each covers a contiguous range
    in order: an integer sum's running extremes and a min's first-of-equals stay those of the loop."""
    loops = loops_of(spec.nest)
    if len(loops) > 2:
        raise Unrenderable("a nest of more than two loops")
    accs = accumulators(spec)
    loop_vars = {lp.slot: f"i{d}" for d, lp in enumerate(loops)}
    update = {a.slot: _update(a, f"p{a.slot}") for a in accs}
    body = Body(spec, loop_vars, update)
    acc_slots = {a.slot for a in accs}
    outs = [f"__global {a.ty}* o{a.slot}_{p}" for a in accs for p in a.parts()]
    ins = [f"__global const {a.ty}* q{a.slot}_{p}" for a in accs for p in a.parts()]
    locs = "".join(f"    __local {a.ty} w{a.slot}_{p}[{wg}];\n" for a in accs for p in a.parts())
    init = "".join(f"    {a.ty} p{a.slot}_s = {a.identity()};\n" + (
        f"    {a.ty} p{a.slot}_hi = 0, p{a.slot}_lo = 0;\n" if len(a.parts()) > 1 else "") for a in accs)
    store_private = "".join(f"    w{a.slot}_{p}[lid] = p{a.slot}_{p};\n" for a in accs for p in a.parts())
    tree = (f"    barrier(CLK_LOCAL_MEM_FENCE);\n"
            f"    for (int step = 1; step < {wg}; step <<= 1) {{\n"
            f"        if ((lid & (2 * step - 1)) == 0 && lid + step < {wg}) {{\n"
            f"            const int l = lid, r = lid + step;\n"
            + "".join(f"            {_combine(a, f'w{a.slot}', f'w{a.slot}')}\n" for a in accs)
            + "        }\n        barrier(CLK_LOCAL_MEM_FENCE);\n    }\n")
    write_out = "".join(f"        o{a.slot}_{p}[get_group_id(0)] = w{a.slot}_{p}[0];\n" for a in accs for p in a.parts())
    if len(loops) == 1:
        point = "        const long i0 = lo0 + t;\n"
    else:
        point = "        const long i0 = lo0 + t / n1, i1 = lo1 + t % n1;\n"
    params = value_params(spec, acc_slots) + ["const long lo0", "const long lo1", "const long n1", "const long total",
                                              "const long chunk"] + outs + ["__global int* err"]
    partial = (f"__kernel void partial({', '.join(params)}) {{\n{locs}    const int lid = get_local_id(0);\n{init}"
               f"{declare_locals(spec, acc_slots, '    ')}"
               f"    const long begin = (long)get_global_id(0) * chunk;\n"
               f"    const long end = min(begin + chunk, total);\n"
               f"    for (long t = begin; t < end; t++) {{\n{point}{body.stmts(loops[-1].body, '        ')}    }}\n"
               f"{store_private}{tree}    if (lid == 0) {{\n{write_out}    }}\n}}\n")
    # the final pass: one group; each item folds a contiguous run of partials in order
    fold_in = "".join(
        f"        {{ const int l = 0; const long r = k; {_combine(a, f'f{a.slot}', f'q{a.slot}')} }}\n"
        for a in accs)
    finit = "".join(f"    {a.ty} f{a.slot}_{p}[1];\n    f{a.slot}_{p}[0] = " +
                    (a.identity() if p == "s" else "0") + ";\n" for a in accs for p in a.parts())
    to_local = "".join(f"    w{a.slot}_{p}[lid] = f{a.slot}_{p}[0];\n" for a in accs for p in a.parts())
    fparams = ins + ["const long count", "const long chunk"] + outs + ["__global int* err"]
    final = (f"__kernel void final({', '.join(fparams)}) {{\n{locs}    const int lid = get_local_id(0);\n{finit}"
             f"    const long begin = (long)lid * chunk;\n    const long end = min(begin + chunk, count);\n"
             f"    for (long k = begin; k < end; k++) {{\n{fold_in}    }}\n{to_local}{tree}"
             f"    if (lid == 0) {{\n{write_out}    }}\n}}\n")
    return Kernel(PRELUDE + REDUCE_HELPERS + partial + final, ["partial", "final"], wg)


def render_scan(spec: KernelSpec, wg: int) -> Kernel:
    """An integer running sum stored each iteration: `s += e; out[i] = s`.

    `elements` computes each iteration's `e` (and its other stores) into a buffer; `scan_blocks`
    scans each work-item's contiguous chunk, then the group's chunk totals (an exclusive
    up-sweep/down-sweep scan in local memory), leaving each group's total; the same kernel, run
    as one group over those totals, gives each group its offset; `store` adds the offsets and
    stores the running sums, checked for overflow."""
    loops = loops_of(spec.nest)
    if len(loops) != 1 or len(spec.results) != 1:
        raise Unrenderable("a scan over more than one loop or accumulator")
    acc = spec.results[0]
    t = prune(value_type(spec.locals[acc]))
    # the running sums are kept in the accumulator's width: checked 64-bit for ints (an i32 scan's
    # sums are checked when stored), reassociated doubles or floats (a float scan is a reduction the
    # contract lets reorder: the kernel is a reassociating one)
    e_ty = {INT: "long", I32: "long", FLOAT: "double", F32: "float"}[t]
    add = "nd_add({0}, {1}, err)" if t in (INT, I32) else "({0} + {1})"
    store = next(n for n in walk(spec.nest) if isinstance(n, ir.CallBuiltin) and n.name == "array.set"
                 and isinstance(n.args[-1], ir.LocalGet) and n.args[-1].slot == acc)
    loop_vars = {loops[0].slot: "i0"}
    update = {acc: "e[t] = {e};"}
    skip_store = {id(store): ""}
    body = Body(spec, loop_vars, update, skip_store)
    params = value_params(spec, {acc})
    elements = (f"__kernel void elements({', '.join(params + ['const long lo0', 'const long total', f'__global {e_ty}* e', '__global int* err'])}) {{\n"
                f"    const long t = get_global_id(0);\n    if (t >= total) return;\n    const long i0 = lo0 + t;\n"
                f"{declare_locals(spec, {acc}, '    ')}{body.stmts(loops[0].body, '    ')}}}\n")
    block = (f"__kernel void scan_blocks(__global {e_ty}* e, const long total, const long chunk, "
             f"__global {e_ty}* totals, __global int* err) {{\n"
             f"    __local {e_ty} w[{wg}];\n    const int lid = get_local_id(0);\n"
             f"    const long begin = (long)get_global_id(0) * chunk, end = min(begin + chunk, total);\n"
             f"    {e_ty} s = 0;\n    for (long t = begin; t < end; t++) {{ s = {add.format('s', 'e[t]')}; e[t] = s; }}\n"
             f"    w[lid] = s;\n    barrier(CLK_LOCAL_MEM_FENCE);\n"
             # an exclusive scan of the items' totals in local memory (up-sweep, down-sweep)
             f"    for (int d = 1; d < {wg}; d <<= 1) {{\n"
             f"        const int k = (lid + 1) * 2 * d - 1;\n"
             f"        if (k < {wg}) w[k] = {add.format('w[k - d]', 'w[k]')};\n"
             f"        barrier(CLK_LOCAL_MEM_FENCE);\n    }}\n"
             f"    if (lid == 0) {{ totals[get_group_id(0)] = w[{wg} - 1]; w[{wg} - 1] = 0; }}\n"
             f"    barrier(CLK_LOCAL_MEM_FENCE);\n"
             f"    for (int d = {wg} / 2; d >= 1; d >>= 1) {{\n"
             f"        const int k = (lid + 1) * 2 * d - 1;\n"
             f"        if (k < {wg}) {{ {e_ty} x = w[k - d]; w[k - d] = w[k]; w[k] = {add.format('w[k]', 'x')}; }}\n"
             f"        barrier(CLK_LOCAL_MEM_FENCE);\n    }}\n"
             f"    const {e_ty} offset = w[lid];\n"
             f"    for (long t = begin; t < end; t++) e[t] = {add.format('e[t]', 'offset')};\n}}\n")
    out_arr = store.args[0]
    ix = Body(spec, loop_vars).index(out_arr, store.args[1:-1])
    out_t = ctype(out_arr.ty)
    conv = "nd_i32(v, err)" if out_t == "int" else "v"
    fix = (f"__kernel void store({', '.join(params + ['const long lo0', 'const long total', 'const long per_group', f'__global const {e_ty}* e', f'__global const {e_ty}* offsets', f'const {e_ty} start', '__global int* err'])}) {{\n"
           f"    const long t = get_global_id(0);\n    if (t >= total) return;\n    const long i0 = lo0 + t;\n"
           f"    const long g = t / per_group;\n"
           f"    const {e_ty} v = {add.format('start', add.format(f'(g > 0 ? offsets[g - 1] : ({e_ty})0)', 'e[t]'))};\n"
           f"    {Arrays.name(out_arr.slot)}[{ix}] = {conv};\n}}\n")  # type: ignore[attr-defined]
    return Kernel(PRELUDE + elements + block + fix, ["elements", "scan_blocks", "store"], wg)


def render_histogram(spec: KernelSpec, wg: int, bins_local: int) -> Kernel:
    """`h[k] += c` with `k` computed from the data: counts in local memory, then added globally."""
    loops = loops_of(spec.nest)
    stores = [n for n in walk(spec.nest) if isinstance(n, ir.CallBuiltin) and n.name == "array.set"]
    if len(loops) != 1 or len(stores) != 1:
        raise Unrenderable("a histogram over more than one loop or array")
    st = stores[0]
    h = st.args[0].slot  # type: ignore[attr-defined]
    if prune(st.args[0].ty).ndim != 1:  # type: ignore[union-attr]
        raise Unrenderable("a histogram of more than one dimension")
    inc = st.args[-1].b  # type: ignore[attr-defined]
    loop_vars = {loops[0].slot: "i0"}
    use_local = bins_local > 0
    if use_local:
        add = f"atomic_add(&bins[{{ix}}], (int)({literal(inc.value, INT)}));"
    else:
        add = f"atom_add(&{Arrays.name(h)}[{{ix}}], {literal(inc.value, INT)});"
    body = Body(spec, loop_vars, replace={id(st): add})
    params = value_params(spec) + ["const long lo0", "const long total", "const long chunk", "__global int* err"]
    ctype_h = ctype(st.args[0].ty)
    if ctype_h != "long":
        raise Unrenderable("a histogram into an Array<i32> (64-bit bins only)")
    local_part = (f"    __local int bins[{max(bins_local, 1)}];\n"
                  f"    for (long b = get_local_id(0); b < {Arrays.length(h, 0)}; b += get_local_size(0)) bins[b] = 0;\n"
                  f"    barrier(CLK_LOCAL_MEM_FENCE);\n") if use_local else ""
    flush = (f"    barrier(CLK_LOCAL_MEM_FENCE);\n"
             f"    for (long b = get_local_id(0); b < {Arrays.length(h, 0)}; b += get_local_size(0))\n"
             f"        if (bins[b] != 0) atom_add(&{Arrays.name(h)}[b], (long)bins[b]);\n") if use_local else ""
    src = (f"__kernel void histogram({', '.join(params)}) {{\n{local_part}{declare_locals(spec, set(), '    ')}"
           f"    const long begin = (long)get_global_id(0) * chunk, end = min(begin + chunk, total);\n"
           f"    for (long t = begin; t < end; t++) {{\n        const long i0 = lo0 + t;\n"
           f"{body.stmts(loops[0].body, '        ')}    }}\n{flush}}}\n")
    return Kernel(PRELUDE + src, ["histogram"], wg)


def render_gemm(spec: KernelSpec, tiled: bool, tile: int = 16) -> Kernel:
    """`c[:m, :n] = alpha * op(a) @ op(b) + beta * c[:m, :n]` (noodle.stdlib.blas's gemm; beta 0 does
    not read c): a work-item per element of c, each a dot product along k (CPU devices: neighbouring
    items read neighbouring elements of b, which the driver vectorises), or `tile` x `tile` tiles of
    op(a) and op(b) staged in local memory, each element read once per work-group (GPUs)."""
    ta, tb = (int(f == "T") for f in spec.flags[:2])
    head = (f"#define TA {ta}\n#define TB {tb}\n"
            "#define A(i, k) a[TA ? (k) * lda + (i) : (i) * lda + (k)]\n"
            "#define B(k, j) b[TB ? (j) * ldb + (k) : (k) * ldb + (j)]\n")
    params = ("__global const double* a, const long lda, __global const double* b, const long ldb, "
              "__global double* c, const long ldc, const long m, const long n, const long p, "
              "const double alpha, const double beta")
    store = "c[i * ldc + j] = beta == 0.0 ? alpha * s : beta * c[i * ldc + j] + alpha * s;"
    if not tiled:
        src = (f"__kernel void gemm({params}) {{\n"
               "    const long j = get_global_id(0), i = get_global_id(1);\n"
               "    if (i >= m || j >= n) return;\n    double s = 0.0;\n"
               "    for (long k = 0; k < p; k++) s = s + A(i, k) * B(k, j);\n"
               f"    {store}\n}}\n")
        return Kernel(PRELUDE + head + src, ["gemm"])
    src = (f"#define TS {tile}\n__kernel void gemm({params}) {{\n"
           "    __local double ta[TS][TS + 1], tb[TS][TS + 1];\n"  # (+1: no bank conflicts down a column)
           "    const int lj = get_local_id(0), li = get_local_id(1);\n"
           "    const long j = get_global_id(0), i = get_global_id(1);\n    double s = 0.0;\n"
           "    for (long k0 = 0; k0 < p; k0 += TS) {\n"
           "        ta[li][lj] = (i < m && k0 + lj < p) ? A(i, k0 + lj) : 0.0;\n"
           "        tb[li][lj] = (k0 + li < p && j < n) ? B(k0 + li, j) : 0.0;\n"
           "        barrier(CLK_LOCAL_MEM_FENCE);\n"
           "        const int last = (int)min((long)TS, p - k0);\n"  # the padding adds nothing, not even 0*0
           "        for (int k = 0; k < last; k++) s = s + ta[li][k] * tb[k][lj];\n"
           "        barrier(CLK_LOCAL_MEM_FENCE);\n    }\n"
           f"    if (i < m && j < n) {store}\n}}\n")
    return Kernel(PRELUDE + head + src, ["gemm"], tile=tile)


def render_gemv(spec: KernelSpec) -> Kernel:
    """`y[:m] = alpha * op(a) @ x[:n] + beta * y[:m]` (noodle.stdlib.blas's gemv): a work-item per
    element of y, a dot product along the row (or, transposed, the column: neighbouring items then
    read neighbouring elements)."""
    ta = int(spec.flags[:1] == "T")
    src = (f"#define TA {ta}\n#define A(i, k) a[TA ? (k) * lda + (i) : (i) * lda + (k)]\n"
           "__kernel void gemv(__global const double* a, const long lda, __global const double* x, "
           "__global double* y, const long m, const long n, const double alpha, const double beta) {\n"
           "    const long i = get_global_id(0);\n    if (i >= m) return;\n    double s = 0.0;\n"
           "    for (long k = 0; k < n; k++) s = s + A(i, k) * x[k];\n"
           "    y[i] = beta == 0.0 ? alpha * s : beta * y[i] + alpha * s;\n}\n")
    return Kernel(PRELUDE + src, ["gemv"])


def render_jacobi(spec: KernelSpec) -> Kernel:
    """The sweep's stencil nest as a map; the host alternates its two arrays between sweeps."""
    stencil = spec.nest.body[0]
    assert isinstance(stencil, ir.ForRange)
    return Kernel(PRELUDE + render_map(spec, stencil, "sweep"), ["sweep"])


def render(spec: KernelSpec, device_kind: str = "cpu", wg: int = 64, bins_local: int = 0,
           max_work_group: int = 256) -> Kernel:
    """The spec's kernels for a device of this kind ("cpu" or "gpu") and largest work-group."""
    if spec.intent in ("map", "stencil"):
        return Kernel(PRELUDE + render_map(spec, spec.nest, "map"), ["map"])
    if spec.intent in ("sum", "product", "min", "max", "count", "dot"):
        return render_reduce(spec, wg)
    if spec.intent == "scan":
        return render_scan(spec, wg)
    if spec.intent == "histogram":
        return render_histogram(spec, wg, bins_local)
    if spec.intent == "gemm":
        tile = 16 if max_work_group >= 256 else 8 if max_work_group >= 64 else 0
        return render_gemm(spec, tiled=device_kind != "cpu" and tile > 0, tile=tile or 16)
    if spec.intent == "gemv":
        return render_gemv(spec)
    if spec.intent == "jacobi":
        return render_jacobi(spec)
    raise Unrenderable(f"no kernel for a {spec.intent}")
