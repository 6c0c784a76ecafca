"""Recognised loop nests as self-contained kernels a device backend can run, and the pass offering them.

A loop nest the `intents` pass recognised (a map, stencil, reduction, dot product, scan,
histogram, matrix product or Jacobi sweeps) reads some arrays and scalars from the function
around it and, for a reduction or a scan, hands back its accumulators.  A :class:`KernelSpec`
says all of that in one value: the nest as written (IR), the values passed in (slots, names and
types), the accumulators handed back, how its bounds are computed from those values, and whether
the kernel reassociates float arithmetic.  It travels in the module as a string constant (JSON),
so the module file stays the one artefact, and a backend (noodle.backends.opencl) renders it to
device code when it first runs — or `noodlec --emit opencl` does.

The `offload` pass wraps each nest it can describe, where the compile options offer the
intent, in

    if opencl.run(SPEC, <values>...) { acc = opencl.result(0) ... } else { <the nest as written> }

The run answers false when the variant does not apply to these values (no device, an
unsupported dtype, below the size this machine measured OpenCL to win from, a non-contiguous
array it would write) or when the kernel flags something the loops would raise on (an index out
of bounds, an integer overflow, a division by zero): the loops then run as written, on the
untouched arrays, and raise exactly as they would have.  A nest that cannot be described keeps
its loops and the reason (:func:`analyse` returns it; `--explain` shows it).

Residency: offloaded statements that follow each other directly in one statement list are
*chained* (`after`, `keep`): the arrays they share stay on the device between them and what the
first wrote is copied back only when the chain ends — no other code runs in between.
"""
from __future__ import annotations

import copy
from typing import Any

import msgspec

from noodle.ir import nodes as ir
from noodle.ir.types import BOOL, F32, FLOAT, I32, INT, ArrayT, Type, parse_type, prune, resolve
from noodle.ir.walk import walk

#: the intents a kernel exists for: recognised nests, and the BLAS calls of recognised contractions
#: (noodle.ir.intents.contraction) the OpenCL backend computes too
OFFLOADABLE = ("map", "stencil", "sum", "product", "min", "max", "count", "dot", "scan", "histogram", "jacobi",
               "gemm", "gemv")
#: the BLAS routines of a contraction dispatch with a kernel, and the names of their arguments after the
#: flags (noodle.stdlib.blas): each call becomes `if opencl.run(SPEC, <its arguments>) {} else { <the call> }`
BLAS_KERNELS = {"blas.gemm": ("m", "n", "k", "alpha", "a", "b", "beta", "c"),
                "blas.gemv": ("m", "n", "alpha", "a", "x", "beta", "y")}

#: the natives of the dispatch: `run` for kernels computing what the loops compute to the bit,
#: `run.reassoc` for those that reassociate float sums or call math functions (a few ulps):
#: `--mode safe` binds a guard that always says no to the latter
RUN, RUN_REASSOC, RESULT = "opencl.run", "opencl.run.reassoc", "opencl.result"

#: scalar element kinds a kernel computes with, and their OpenCL C types
ELEMENT_TYPES = {FLOAT: "double", F32: "float", INT: "long", I32: "int", BOOL: "bool"}

#: natives a kernel body may call (each rendered by noodle.backends.opencl.render)
KERNEL_NATIVES = frozenset({"array.get", "array.set", "array.len", "array.shape", "min2", "max2", "abs.int",
                            "abs.float", "math.fabs", "math.sqrt", "math.exp", "math.log", "math.sin", "math.cos",
                            "int.float", "float.float", "int.int", "f32.f32", "i32.i32", "f32.add", "f32.sub",
                            "f32.mul", "f32.div", "f32.neg", "i32.add", "i32.sub", "i32.mul", "i32.floordiv",
                            "i32.mod", "i32.neg", "float.to_f32", "f32.to_float", "int.to_i32", "i32.to_int",
                            "range.incl_stop"})  # (the stop of `a..=b`: loop bounds are the host's)
#: of those, the ones OpenCL does not round correctly (a few ulps): the kernel is not bit-exact
INEXACT_NATIVES = frozenset({"math.exp", "math.log", "math.sin", "math.cos"})

BINARY_OPS = frozenset({"int.add", "int.sub", "int.mul", "int.floordiv", "int.mod", "int.and", "int.or", "int.xor",
                        "float.add", "float.sub", "float.mul", "float.div", "cmp.eq", "cmp.ne", "cmp.lt", "cmp.le",
                        "cmp.gt", "cmp.ge"})
UNARY_OPS = frozenset({"int.neg", "float.neg", "not", "int.to_float"})


class Value(msgspec.Struct, frozen=True):
    """A value the kernel reads from the function around it: an array or a scalar local."""

    slot: int
    name: str
    ty: str  # its type, as text (`Array<float, 2>`, `int`)


class KernelSpec(msgspec.Struct, kw_only=True):
    """A recognised nest, self-contained: what a device backend needs to run it."""

    intent: str  # one of OFFLOADABLE
    #: the loops as written (for jacobi: the sweep loop around the two nests; None for a BLAS call)
    nest: "ir.ForRange | None" = None
    #: passed to `opencl.run` after the spec, in this order (for a BLAS call: its arguments after the
    #: flags, their `slot` the position)
    values: list[Value]
    results: list[int] = []  # accumulators handed back (`opencl.result(k)`), as slots
    locals: dict[int, Value] = {}  # every local the nest touches: loop variables, temporaries, values
    exact: bool = True  # computes what the loops compute, to the bit
    flags: str = ""  # for a BLAS call: its flags (`N`/`T` per operand: row-major, transposed or not)
    line: int = 0
    module: str = ""  # the module and function it came from (messages, --emit opencl, chains)
    function: str = ""
    key: int = 0  # its number in the module: names the kernel and chains dispatches
    #: the dispatch before it in the same statement list, with nothing between them but code whose
    #: writes to arrays are known (`stale`), else -1
    after: int = -1
    keep: bool = False  # the next statement is a chained dispatch: leave what it wrote on the device
    #: the Array locals the code since `after` may write (passed after the values): their device
    #: copies are stale
    stale: list[int] = []


def _enc(obj: Any) -> Any:
    if isinstance(obj, Type):
        return str(resolve(obj))
    raise NotImplementedError(type(obj))


def _dec(tp: type, obj: Any) -> Any:
    if tp is Type and isinstance(obj, str):
        return parse_type(obj)
    raise NotImplementedError(tp)


_encoder = msgspec.json.Encoder(enc_hook=_enc)
_decoder = msgspec.json.Decoder(KernelSpec, dec_hook=_dec)


def encode(spec: KernelSpec) -> str:
    return _encoder.encode(spec).decode()


def decode(text: str) -> KernelSpec:
    return _decoder.decode(text)


def value_type(v: Value) -> Type:
    return parse_type(v.ty)


# ---------------------------------------------------------------- describing a nest

class NotOffered(Exception):
    """Why a recognised nest has no kernel."""


def analyse(f: ir.Function, s: ir.Stmt, key: int = 0) -> "KernelSpec | str | None":
    """The kernel of statement `s` (a recognised nest or dispatch), why it has none, or None for a
    statement that is no recognised nest."""
    call = blas_call(s)
    if call is not None:
        try:
            return _describe_blas(f, s, call, key)
        except NotOffered as why:
            return str(why)
    intent, nest = _recognised(s)
    if intent is None or nest is None:
        return None
    try:
        return _describe(f, s, intent, nest, key)
    except NotOffered as why:
        return str(why)


def blas_call(s: ir.Stmt) -> "ir.CallBuiltin | None":
    """The BLAS call of a contraction dispatch's `then` that statement `s` is, if one has a kernel."""
    if isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.CallBuiltin) and s.expr.name in BLAS_KERNELS:
        return s.expr
    return None


def _describe_blas(f: ir.Function, s: ir.Stmt, call: ir.CallBuiltin, key: int) -> KernelSpec:
    """A BLAS call of a recognised contraction, which ran only where its guard held (float64
    arrays, bounds within them, the array written sharing no memory with the others): the kernel
    computes what the routine computes (noodle.stdlib.blas), in its own order of additions."""
    flags = call.args[0]
    names = BLAS_KERNELS[call.name]
    if not isinstance(flags, ir.Const) or not isinstance(flags.value, str) or len(call.args) != len(names) + 1:
        raise NotOffered(f"line {s.line}: a {call.name} call of another form")
    values = []
    for k, (name, arg) in enumerate(zip(names, call.args[1:]), start=1):
        t = prune(arg.ty)
        if isinstance(t, ArrayT) and t.elem != FLOAT:
            raise NotOffered(f"line {s.line}: `{name}` is an {t}")
        values.append(Value(k, name, str(resolve(arg.ty))))
    intent = call.name[len("blas."):]
    return KernelSpec(intent=intent, values=values, locals={v.slot: v for v in values}, exact=False,
                      flags=str(flags.value), line=s.line, function=f.display, key=key)


def _recognised(s: ir.Stmt) -> "tuple[str | None, ir.ForRange | None]":
    if isinstance(s, ir.ForRange) and s.intent in OFFLOADABLE:
        return s.intent, s
    if isinstance(s, ir.If) and s.intent in ("dot", "jacobi") and len(s.otherwise) == 1 \
            and isinstance(s.otherwise[0], ir.ForRange):
        return s.intent, s.otherwise[0]
    return None, None


def _describe(f: ir.Function, s: ir.Stmt, intent: str, nest: ir.ForRange, key: int) -> KernelSpec:
    names, types = f.local_names, f.local_types
    inside = {id(n) for n in walk(s)}
    loop_vars = [n.slot for n in walk(nest) if isinstance(n, ir.ForRange)]
    assigned = {n.slot for n in walk(nest) if isinstance(n, ir.LocalSet)}
    read = {n.slot for n in walk(nest) if isinstance(n, ir.LocalGet)}
    accumulators = sorted(slot for slot in assigned if _carried(nest, slot))
    if intent in ("map", "stencil", "histogram", "jacobi") and accumulators:
        raise NotOffered(f"`{names[accumulators[0]]}` carries a value from one iteration to the next")
    for n in walk(nest):
        _check_node(n, names)
    # what the nest sets must not be read after it (a loop variable's or temporary's last value)
    for other in (n for st in f.body for n in walk(st) if id(n) not in inside):
        if isinstance(other, ir.LocalGet) and other.slot in (assigned | set(loop_vars)) - set(accumulators):
            raise NotOffered(f"line {other.line} reads `{names[other.slot]}`, which the loop sets")
    _float_order(nest, accumulators, types, names)
    values = sorted((read - assigned - set(loop_vars)) | set(accumulators))
    for slot in values:
        t = prune(types[slot])
        if isinstance(t, ArrayT):
            if t.elem not in (FLOAT, F32, INT, I32) or t.ndim not in (1, 2):
                raise NotOffered(f"`{names[slot]}` is an {t}: kernels take Arrays of int, float, i32 or f32 "
                                 "of 1 or 2 dimensions")
            if slot in assigned:
                raise NotOffered(f"the loop assigns the Array variable `{names[slot]}`")
        elif t not in ELEMENT_TYPES:
            raise NotOffered(f"`{names[slot]}` is a {t}: kernels take numbers, bools and Arrays")
    for lp in (n for n in walk(nest) if isinstance(n, ir.ForRange)):
        for bound in (lp.start, lp.stop):
            _host_bound(bound, set(values) - set(accumulators), names, loop_vars if intent == "jacobi" else [])
        if not (isinstance(lp.step, ir.Const) and lp.step.value == 1):
            raise NotOffered(f"the loop at line {lp.line} does not step by 1")
    if intent == "jacobi":
        _check_sweeps(nest, names)
    exact = intent != "dot" and all(prune(types[a]) in (INT, I32) or _kind(nest, a) in ("min", "max")
                                                   for a in accumulators)
    if any(isinstance(n, ir.CallBuiltin) and n.name in INEXACT_NATIVES for n in walk(nest)):
        exact = False
    touched = {n.slot for n in walk(nest) if isinstance(n, (ir.LocalGet, ir.LocalSet, ir.ForRange))}
    local = {slot: Value(slot, names[slot], str(resolve(types[slot]))) for slot in sorted(touched)}
    return KernelSpec(intent=intent, nest=copy.deepcopy(nest), values=[local[v] for v in values],
                      results=accumulators, locals=local, exact=exact, line=s.line,
                      function=f.display, key=key)


def _carried(nest: ir.ForRange, slot: int) -> bool:
    """Is `slot` read in an iteration before that iteration sets it (an accumulator)?  Looked at in
    the shallowest loop of the nest whose body sets it."""
    for lp in (n for n in walk(nest) if isinstance(n, ir.ForRange)):
        sets = [st for st in lp.body for n in walk(st) if isinstance(n, ir.LocalSet) and n.slot == slot
                and not isinstance(st, ir.ForRange)]
        if not sets:
            continue
        for st in lp.body:
            if isinstance(st, ir.LocalSet) and st.slot == slot:
                return any(isinstance(n, ir.LocalGet) and n.slot == slot for n in walk(st.value))
            if any(isinstance(n, ir.LocalGet) and n.slot == slot for n in walk(st)):
                return True
        return False
    return False


def _kind(nest: ir.ForRange, slot: int) -> str:
    """The reduction an accumulator is updated by: sum, product, min, max (noodle.ir.intents.loops)."""
    from noodle.ir.intents.loop_facts import _accumulation

    for n in walk(nest):
        if isinstance(n, ir.LocalSet) and n.slot == slot:
            kind = _accumulation(n)
            if kind is not None:
                return kind
    return ""


def _float_order(nest: ir.ForRange, accumulators: list[int], types: list[Type], names: list[str]) -> None:
    """A float accumulator may be reassociated where the contract lets reductions be ("without
    changing results beyond float reassociation in reductions"): a sum or a product — filtered or
    not, float or f32 — or a scan's running sum, read nowhere but in its own update (and, for a scan,
    the store of its running value right after it: the recogniser checked that, noodle.ir.intents.
    loop_facts).  A min or max does not round, so anywhere.  Such kernels are reassociating ones:
    `--mode safe` runs the loops."""
    for a in accumulators:
        if prune(types[a]) not in (FLOAT, F32):
            continue
        kind = _kind(nest, a)
        if kind in ("min", "max"):
            continue
        updates = [n for n in walk(nest) if isinstance(n, ir.LocalSet) and n.slot == a]
        inside = {id(x) for u in updates for x in walk(u.value)}
        stray = [n for n in walk(nest) if isinstance(n, ir.LocalGet) and n.slot == a and id(n) not in inside
                 and not _stored_running_value(nest, n)]
        if kind not in ("sum", "product") or stray:
            raise NotOffered(f"the float {kind or 'accumulator'} `{names[a]}` is not a reduction the contract "
                             "lets reorder (a sum or product read only by its own update, or a scan): a kernel "
                             "would round differently")


def _stored_running_value(nest: ir.ForRange, get: ir.LocalGet) -> bool:
    """Is `get` the value of a store `out[i] = s` (a scan storing its running sum)?"""
    return any(isinstance(n, ir.CallBuiltin) and n.name == "array.set" and n.args[-1] is get for n in walk(nest))


def _check_node(n: ir.Node, names: list[str]) -> None:
    if isinstance(n, ir.CallBuiltin):
        if n.name not in KERNEL_NATIVES:
            raise NotOffered(f"line {n.line} calls `{n.name}`, which kernels do not compute")
        if n.name in ("array.get", "array.set", "array.len", "array.shape") and not isinstance(n.args[0], ir.LocalGet):
            raise NotOffered(f"line {n.line} indexes an Array that is not a variable")
        if n.name in ("array.get", "array.set"):
            t = prune(n.args[0].ty)
            wanted = t.ndim + (2 if n.name == "array.set" else 1) if isinstance(t, ArrayT) else -1
            if len(n.args) != wanted:
                raise NotOffered(f"line {n.line} takes a row of an Array")
    elif isinstance(n, ir.Binary):
        if n.op not in BINARY_OPS:
            raise NotOffered(f"line {n.line}: `{n.op}` is not computed by kernels")
    elif isinstance(n, ir.Unary):
        if n.op not in UNARY_OPS:
            raise NotOffered(f"line {n.line}: `{n.op}` is not computed by kernels")
    elif isinstance(n, ir.Index):
        if not (isinstance(n.obj, ir.CallBuiltin) and n.obj.name == "array.shape" and isinstance(n.index, ir.Const)):
            raise NotOffered(f"line {n.line} indexes something other than an Array's shape")
    elif not isinstance(n, (ir.Const, ir.LocalGet, ir.LocalSet, ir.Logical, ir.Cond, ir.ExprStmt, ir.If,
                            ir.ForRange)):
        raise NotOffered(f"line {n.line}: {type(n).__name__} is not computed by kernels")
    if isinstance(n, (ir.Const, ir.LocalGet, ir.Binary, ir.Unary, ir.Logical, ir.Cond)) \
            and prune(n.ty) not in ELEMENT_TYPES and not isinstance(prune(n.ty), ArrayT):
        raise NotOffered(f"line {n.line}: a value of type {prune(n.ty)} is not computed by kernels")


#: what the host evaluates of a loop bound: constants, values, `len(a)`, `a.shape[k]`, + - *
def _host_bound(e: ir.Expr, values: set[int], names: list[str], outer: list[int]) -> None:
    if isinstance(e, ir.Const) and type(e.value) is int:
        return
    if isinstance(e, ir.LocalGet) and e.slot in values and prune(e.ty) == INT:
        return
    if isinstance(e, ir.CallBuiltin) and e.name in ("array.len", "len") and isinstance(e.args[0], ir.LocalGet) \
            and e.args[0].slot in values:
        return
    if isinstance(e, ir.Index) and isinstance(e.obj, ir.CallBuiltin) and e.obj.name == "array.shape" \
            and isinstance(e.obj.args[0], ir.LocalGet) and e.obj.args[0].slot in values \
            and isinstance(e.index, ir.Const):
        return
    if isinstance(e, ir.CallBuiltin) and e.name == "range.incl_stop" and len(e.args) == 1:  # `a..=b`
        _host_bound(e.args[0], values, names, outer)
        return
    if isinstance(e, ir.Binary) and e.op in ("int.add", "int.sub", "int.mul"):
        _host_bound(e.a, values, names, outer)
        _host_bound(e.b, values, names, outer)
        return
    raise NotOffered(f"line {e.line}: a loop bound is computed from something other than the values "
                     "the loop starts with")


def _check_sweeps(loop: ir.ForRange, names: list[str]) -> None:
    """Jacobi sweeps: the sweep loop's body is the stencil nest and the copy-back nest."""
    if len(loop.body) != 2 or not all(isinstance(x, ir.ForRange) for x in loop.body):
        raise NotOffered("the sweep loop holds more than its two nests")
    if any(isinstance(n, ir.LocalGet) and n.slot == loop.slot for x in loop.body for n in walk(x)):
        raise NotOffered(f"the sweeps read the sweep counter `{names[loop.slot]}`")


# ---------------------------------------------------------------- the pass

#: what the pass found, per recognised nest: (function, line, its kernel or why it has none)
Report = list[tuple[str, int, "KernelSpec | str"]]


def offload_module(module: ir.Module, offered: "frozenset[str] | set[str]", report: "Report | None" = None) -> int:
    """Wrap every recognised nest whose intent is `offered` in an OpenCL dispatch; returns how many.
    `report` (for `noodlec --explain`) receives every recognised nest's kernel or why it has none."""
    if not offered and report is None:
        return 0
    counter = [0]
    for f in module.functions:
        if "no_optimize" in f.attributes or f.kind not in ("fn", "method", "init", "test"):
            continue
        f.body = _body(f, f.body, offered, counter, report)
        for n in (n for st in f.body for n in walk(st)):
            if isinstance(n, ir.CallBuiltin) and n.name in (RUN, RUN_REASSOC) and isinstance(n.args[0], ir.Const):
                spec = decode(str(n.args[0].value))
                spec.module = module.name
                n.args[0].value = encode(spec)
    return counter[0]


def _body(f: ir.Function, body: list[ir.Stmt], offered: "frozenset[str] | set[str]",
          counter: list[int], report: "Report | None" = None) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    previous: KernelSpec | None = None
    gap: list[ir.Stmt] = []  # the statements since the dispatch `previous`
    for s in body:
        found = analyse(f, s, counter[0] + 1)
        if report is not None and found is not None:
            report.append((f.display, s.line, copy.deepcopy(found) if isinstance(found, KernelSpec) else found))
        if isinstance(found, KernelSpec) and found.intent in offered:
            counter[0] += 1
            stale = _writes(f, gap)
            if previous is not None and stale is not None:
                found.after, found.stale = previous.key, stale
                previous.keep = not gap
            out.append(_dispatch(f, s, found))
            previous, gap = found, []
            continue
        if isinstance(s, ir.If) and s.intent == "contraction":
            # its BLAS calls, where its guard held, may run as kernels (blas_call); its loops stay
            s.then = _body(f, s.then, offered, counter, report)
        elif isinstance(s, ir.If) and not s.intent:
            s.then = _body(f, s.then, offered, counter, report)
            s.otherwise = _body(f, s.otherwise, offered, counter, report)
        elif isinstance(s, (ir.While, ir.ForRange, ir.ForEach)) and not (isinstance(s, ir.ForRange) and s.intent):
            s.body = _body(f, s.body, offered, counter, report)
        out.append(s)
        gap.append(s)
    # the specs are final only now (a later dispatch sets `keep` on the one before): encode them
    for s in out:
        if isinstance(s, ir.If) and s.intent.startswith("opencl.") and isinstance(s.cond, ir.CallBuiltin):
            spec = s.cond.args[0]
            if isinstance(spec, ir.Const) and isinstance(spec.value, KernelSpec):  # type: ignore[unreachable]
                spec.value = encode(spec.value)  # type: ignore[unreachable]
    return out


#: natives VM code between two dispatches may call without writing an array behind the residency
#: table's back (every kernel native but the store, which `_writes` follows, and printing)
_GAP_NATIVES = (KERNEL_NATIVES - {"array.set"}) | {"print", "str", "float.str", "int.str"}


def _writes(f: ir.Function, gap: list[ir.Stmt]) -> "list[int] | None":
    """The Array locals statements `gap` may store into, or None when they may write an array some
    other way (a call, a native that is not known to be pure, a nested dispatch): then nothing
    stays on the device across them."""
    written: set[int] = set()
    for n in (n for st in gap for n in walk(st)):
        if isinstance(n, ir.CallBuiltin):
            if n.name == "array.set" and isinstance(n.args[0], ir.LocalGet):
                written.add(n.args[0].slot)
            elif n.name not in _GAP_NATIVES:
                return None
        elif isinstance(n, ir.IndexSet) and isinstance(prune(n.obj.ty), ArrayT):
            if not isinstance(n.obj, ir.LocalGet):
                return None
            written.add(n.obj.slot)
        elif not isinstance(n, _GAP_NODES):
            return None  # a call of a function or a value, a constructor: it may write anything
    return sorted(s for s in written if isinstance(prune(f.local_types[s]), ArrayT))


#: what else the code between two dispatches may hold (leaving the list early is fine: the next
#: dispatch checks that the one before it ran last, noodle.backends.opencl.runtime)
_GAP_NODES = (ir.Const, ir.LocalGet, ir.FreeGet, ir.GlobalGet, ir.Unary, ir.Binary, ir.Logical, ir.Cond, ir.GetField,
              ir.TupleGet, ir.ListLit, ir.MapLit, ir.TupleLit, ir.Index, ir.Slice, ir.RangeLit, ir.Interp, ir.LocalSet,
              ir.FreeSet, ir.GlobalSet, ir.FieldSet, ir.IndexSet, ir.ExprStmt, ir.If, ir.While, ir.ForRange, ir.ForEach,
              ir.Break, ir.Continue, ir.Return, ir.Throw, ir.Assert)


def _dispatch(f: ir.Function, s: ir.Stmt, spec: KernelSpec) -> ir.If:
    from noodle.ir.types import STR

    pos = {"line": s.line, "col": s.col}
    args: list[ir.Expr] = [ir.Const(value=spec, ty=STR, **pos)]  # type: ignore[arg-type]  (encoded in _body)
    call = blas_call(s)
    if call is not None:  # the call's arguments (pure: its guard read them too)
        args += [copy.deepcopy(a) for a in call.args[1:]]
    else:
        args += [ir.LocalGet(slot=v.slot, ty=f.local_types[v.slot], **pos) for v in spec.values]
    args += [ir.LocalGet(slot=slot, ty=f.local_types[slot], **pos) for slot in spec.stale]
    run = ir.CallBuiltin(name=RUN if spec.exact else RUN_REASSOC, args=args, ty=BOOL, **pos)
    then: list[ir.Stmt] = [ir.LocalSet(slot=slot, value=ir.CallBuiltin(
        name=RESULT, args=[ir.Const(value=k, ty=INT, **pos)], ty=f.local_types[slot], **pos), **pos)
        for k, slot in enumerate(spec.results)]
    return ir.If(cond=run, then=then, otherwise=[s], intent=f"opencl.{spec.intent}", **pos)


def specs_of(module: ir.Module) -> list[KernelSpec]:
    """The kernels of an offloaded module, in order (for `noodlec --emit opencl`)."""
    out = []
    for f in module.functions:
        for st in f.body:
            for n in walk(st):
                if isinstance(n, ir.CallBuiltin) and n.name in (RUN, RUN_REASSOC) and isinstance(n.args[0], ir.Const):
                    out.append(decode(str(n.args[0].value)))
    return out
