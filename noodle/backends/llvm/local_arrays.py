"""Arrays a native function makes for itself: `let z = zeros(n)`, `ones(n, m)`, `full(n, 0.5)`.

Such an Array lives in a local of the function (noodle.ir.native_plan.ARRAY_MAKERS says which values
qualify): its data, lengths and strides are kept in stack slots, the memory comes from `calloc`
(zero bytes are 0.0 and 0), and the function frees it when it returns, on every path — the
lowering has one exit block.  Assigning the local anew frees the old memory first.  Nothing else
can hold the Array: the plan keeps a function in the VM if it returns one, stores one elsewhere,
or hands one to the VM; a native callee it is passed to gets the pointer for the call's duration.

Errors are the VM's: a negative dimension is a ValueError, a size past memory a MemoryError.
Under a VM's memory limit the bytes are charged to the call's context (noodle.backends.llvm.stop)
before `calloc` and given back by `free`: an Array past the limit is the status `MemoryLimit`, which
the machine raises as its memory limit.  Filling an Array is charged as the VM charges making one
(one step per WORK_PER_STEP elements).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llvmlite import ir as L

from noodle.ir import nodes as ir
from noodle.ir.native_plan import array_kind

I64 = L.IntType(64)
I8P = L.IntType(8).as_pointer()
_ELEMENT = {"float": L.DoubleType(), "f32": L.FloatType(), "int": I64, "i32": L.IntType(32)}
_BYTES = {"float": 8, "f32": 4, "int": 8, "i32": 4}

STATUS = {"NegativeDimension": 24, "MemoryError": 25, "MemoryLimit": 26}
ERRORS = {24: ("ValueError", "negative array dimension"), 25: ("MemoryError", "out of memory for an Array"),
          26: ("MemoryError", "memory limit exceeded")}
#: the status of an Array that would not fit under the VM's memory limit
MEMORY_LIMIT = 26
#: elements made per step charged (noodle.vm.limits.WORK_PER_STEP)
_WORK_SHIFT = 6


@dataclass
class LocalArray:
    """The stack slots of one Array local: data pointer, each dimension's length and stride, and
    the bytes charged to the context for it."""
    elem: str
    data: L.Value
    lengths: list[L.Value]
    strides: list[L.Value]
    charged: L.Value


def is_local_array(f: ir.Function, slot: int) -> bool:
    return slot >= f.params and array_kind(f.local_types[slot]) is not None


def allocate_slots(lw: Any) -> dict[int, LocalArray]:
    """Stack slots for every Array local of the function, the data pointers null (free(NULL) is a
    no-op, so the exit may free every one, made or not).  Call at the entry, before any jump."""
    b, f = lw.b, lw.f
    out: dict[int, LocalArray] = {}
    for slot in range(f.params, len(f.local_types)):
        kind = array_kind(f.local_types[slot])
        if kind is None:
            continue
        elem, ndim = kind.split("/")
        pointer = _ELEMENT[elem].as_pointer()
        data = b.alloca(pointer, name=f"a{slot}.data")
        b.store(L.Constant(pointer, None), data)
        lengths = [b.alloca(I64, name=f"a{slot}.len{k}") for k in range(int(ndim))]
        strides = [b.alloca(I64, name=f"a{slot}.stride{k}") for k in range(int(ndim))]
        charged = b.alloca(I64, name=f"a{slot}.bytes")
        for x in lengths + strides + [charged]:
            b.store(L.Constant(I64, 0), x)
        out[slot] = LocalArray(elem, data, lengths, strides, charged)
    return out


def parts(lw: Any, local: LocalArray) -> tuple[L.Value, list[L.Value], list[L.Value]]:
    """(data, lengths, strides) of an Array local, as they are at this point of the function."""
    b = lw.b
    return b.load(local.data), [b.load(x) for x in local.lengths], [b.load(x) for x in local.strides]


def _libc(lw: Any) -> tuple[L.Function, L.Function]:
    calloc = lw.intrinsic("calloc", I8P, [I64, I64])
    free = lw.intrinsic("free", L.VoidType(), [I8P])
    return calloc, free


def release(lw: Any, b: L.IRBuilder, locals_: dict[int, LocalArray]) -> None:
    """Free every Array local (at the function's exit, with the exit block's builder `b`)."""
    if not locals_:
        return
    _, free = _libc(lw)
    for local in locals_.values():
        b.call(free, [b.bitcast(b.load(local.data), I8P)])
        _give_back(lw, b, local)


def _memory(lw: Any, b: L.IRBuilder) -> L.Value:
    from noodle.backends.llvm.lower import CTX_MEMORY, ctx_field
    return ctx_field(b, lw.ctx, CTX_MEMORY)


def _give_back(lw: Any, b: L.IRBuilder, local: LocalArray) -> None:
    """The bytes charged for an Array local back to the context (atomically: threads share it)."""
    b.atomic_rmw("add", _memory(lw, b), b.load(local.charged), "monotonic")
    b.store(L.Constant(I64, 0), local.charged)


def assign(lw: Any, s: ir.LocalSet, local: LocalArray) -> None:
    """`local = zeros(dims...)` / `ones(dims...)` / `full(dims..., value)`: free the old memory, then
    allocate and fill the new Array (row-major, contiguous)."""
    b = lw.b
    maker: ir.CallBuiltin = s.value  # type: ignore[assignment]
    fills = maker.name.startswith("array.full")
    dims = [lw.expr(a) for a in (maker.args[:-1] if fills else maker.args)]
    zero, one = L.Constant(I64, 0), L.Constant(I64, 1)
    count: L.Value = one
    mul = lw.intrinsic("llvm.smul.with.overflow.i64", L.LiteralStructType([I64, L.IntType(1)]), [I64, I64])
    for d in dims:  # every dimension is checked before any size, as the VM does
        lw.fail_if(b.icmp_signed("<", d, zero), "NegativeDimension")
    for d in dims:
        pair = b.call(mul, [count, d])
        lw.fail_if(b.extract_value(pair, 1), "MemoryError")
        count = b.extract_value(pair, 0)
    size = L.Constant(I64, _BYTES[local.elem])
    pair = b.call(mul, [count, size])
    lw.fail_if(b.extract_value(pair, 1), "MemoryError")
    nbytes = b.extract_value(pair, 0)
    calloc, free = _libc(lw)
    pointer = local.data.type.pointee
    b.call(free, [b.bitcast(b.load(local.data), I8P)])
    b.store(L.Constant(pointer, None), local.data)
    _give_back(lw, b, local)
    # the bytes charged before anything is allocated; past the limit, charged back at once
    before = b.atomic_rmw("sub", _memory(lw, b), nbytes, "monotonic")
    over = b.icmp_signed("<", before, nbytes)
    bad, fits = lw.new_block("memorylimit"), lw.new_block("memoryfits")
    lw.unlikely(b.cbranch(over, bad, fits))
    b.position_at_end(bad)
    b.atomic_rmw("add", _memory(lw, b), nbytes, "monotonic")
    b.branch(fits)
    b.position_at_end(fits)
    lw.fail_if(over, "MemoryLimit")
    b.store(nbytes, local.charged)
    lw.poll(b.lshr(count, L.Constant(I64, _WORK_SHIFT)))  # making it is work, charged as the VM charges
    # calloc(0, n) may answer NULL: ask for at least one element, so NULL always means no memory
    raw = b.call(calloc, [b.select(b.icmp_signed("==", count, zero), one, count), size])
    lw.fail_if(b.icmp_unsigned("==", b.ptrtoint(raw, I64), zero), "MemoryError")
    data = b.bitcast(raw, pointer)
    b.store(data, local.data)
    stride: L.Value = one
    for k in range(len(dims) - 1, -1, -1):
        b.store(dims[k], local.lengths[k])
        b.store(stride, local.strides[k])
        if k:
            stride = b.mul(stride, dims[k], flags=["nsw"])  # a factor of count, which did not overflow
    if maker.name == "array.zeros":
        return
    value = L.Constant(_ELEMENT[local.elem], 1.0 if local.elem in ("float", "f32") else 1) \
        if maker.name == "array.ones" else lw.expr(maker.args[-1])
    counted_loop(lw, count, "fill", lambda i: b.store(value, b.gep(data, [i], inbounds=True)))


def counted_loop(lw: Any, n: L.Value, name: str, body: Any) -> None:
    """`for k in 0..n { body(k) }`: a counted loop (a phi, no stack slot) LLVM can vectorise; the
    code after it goes where the builder is left."""
    b = lw.b
    before = b.block
    head, block, done = lw.new_block(name), lw.new_block(name + "body"), lw.new_block(name + "done")
    b.branch(head)
    b.position_at_end(head)
    k = b.phi(I64)
    k.add_incoming(L.Constant(I64, 0), before)
    b.cbranch(b.icmp_signed("<", k, n), block, done)
    b.position_at_end(block)
    body(k)
    k.add_incoming(b.add(k, L.Constant(I64, 1), flags=["nsw"]), b.block)  # k < n: no overflow
    b.branch(head)
    b.position_at_end(done)
