"""Native code for a loop nest split across cores (the guard and run of noodle.ir.passes.parallel).

`parallel.run(chunk, start, stop, captured...)` becomes: cut [start, stop) into a few chunks of
rows per thread (for at most `@nd_threads` threads, set at link time from the machine's core
count), fill one environment on the caller's stack (an atomic chunk counter, a count of chunks
finished, the geometry, the call depth, a status, the captured values), hand the environment's
`take` to the process's worker pool (noodle.backends.llvm.pool), take chunks on this thread too,
and wait until every chunk is finished; then close the pool's job and raise the first error a
chunk reported.  Taking chunks as they come, rather than one fixed range per thread, keeps a
thread the OS starves (a busy core: another program, NumPy's BLAS threads still spinning) from
holding up the rest, and a worker that wakes late finds nothing left.  When the pool is busy
(a split on another thread) or has no workers, this thread runs every chunk.  The native call
that gets here runs without the GIL (ctypes releases it), so the threads run truly at once.

`parallel.worth(accesses, bounds...)` asks for more than one thread and at least
`@nd_parallel_min` array accesses in all (elements times accesses per element: the
"map.parallel" threshold, noodle.ir.variants); `parallel.disjoint(n,
arrays...)` checks that none of the first n arrays (those the nest writes) shares a byte with
any other.
"""
from __future__ import annotations

from typing import Any

from llvmlite import ir as L

from noodle.ir import nodes as ir

I1, I8, I32, I64, F64 = L.IntType(1), L.IntType(8), L.IntType(32), L.IntType(64), L.DoubleType()
I8P = L.PointerType(I8)
#: threads one split can use at most
MAX_THREADS = 64
THREADS_GLOBAL, MIN_GLOBAL = "nd_threads", "nd_parallel_min"
#: the environment variable that sets how many threads a split uses (1: none besides the caller)
THREADS_ENV = "NOODLE_THREADS"
_warned: set[str] = set()


def thread_count() -> int:
    """Threads a split may use, the calling one included: `NOODLE_THREADS` when set (1 keeps
    every nest on one core), else one per core."""
    import os
    import sys

    cores = max(1, min(os.cpu_count() or 1, MAX_THREADS))
    text = os.environ.get(THREADS_ENV)
    if text is None:
        return cores
    try:
        wanted = int(text)
    except ValueError:
        wanted = 0
    if wanted < 1:
        if text not in _warned:  # once per process, not per module linked
            _warned.add(text)
            print(f"noodle: {THREADS_ENV}={text!r} is not a whole number of threads of at least 1; using {cores}",
                  file=sys.stderr)
        return cores
    return min(wanted, MAX_THREADS)
_BYTES = {"double": 8, "float": 4, "i64": 8, "i32": 4}


def lower_parallel(lw: Any, e: ir.CallBuiltin) -> L.Value:
    """Lower one of the parallel natives inside the function `lw` (a _FunctionLowering) is building."""
    if e.name == "parallel.worth":
        return _worth(lw, e.args[0].value, [lw.expr(a) for a in e.args[1:]])  # type: ignore[union-attr]
    if e.name == "parallel.disjoint":
        return _disjoint(lw, e)
    _run(lw, e)
    return L.Constant(I1, 0)


def _global(m: L.Module, name: str, default: int) -> L.GlobalVariable:
    g = m.globals.get(name)
    if g is None:
        g = L.GlobalVariable(m, I64, name=name)
        g.initializer = L.Constant(I64, default)  # until the linker sets it: one thread, never worth it
    return g


def _worth(lw: Any, accesses: int, bounds: list[L.Value]) -> L.Value:
    from noodle.backends.llvm.lower import CTX_THREADS, ctx_field

    b = lw.b
    # the context says no under a step limit: the threads would charge one counter at once
    threads = b.select(b.icmp_signed("!=", b.load(ctx_field(b, lw.ctx, CTX_THREADS)), L.Constant(I64, 0)),
                       b.load(_global(lw.m, THREADS_GLOBAL, 1)), L.Constant(I64, 1))
    least = b.load(_global(lw.m, MIN_GLOBAL, (1 << 62)))
    elements = L.Constant(F64, float(accesses))  # the work: elements times the array accesses of each
    for lo, hi in zip(bounds[0::2], bounds[1::2]):  # in double: a product of extents cannot overflow
        elements = b.fmul(elements, b.sitofp(b.sub(hi, lo), F64))
    rows = b.sub(bounds[1], bounds[0])
    return b.and_(b.and_(b.icmp_signed(">", threads, L.Constant(I64, 1)), b.icmp_signed(">", rows, L.Constant(I64, 1))),
                  b.fcmp_ordered(">=", elements, b.sitofp(least, F64)))


def _extent(lw: Any, slot: int) -> tuple[L.Value, L.Value, L.Value]:
    """(first byte, last byte, empty?) of the memory an Array parameter's elements occupy."""
    b = lw.b
    data, lengths, strides = lw.array_parts(slot)
    zero = L.Constant(I64, 0)
    low, high, empty = zero, zero, L.Constant(I1, 0)
    for n, step in zip(lengths, strides):
        reach = b.mul(b.sub(n, L.Constant(I64, 1)), step)  # in elements, signed
        low = b.add(low, b.select(b.icmp_signed("<", reach, zero), reach, zero))
        high = b.add(high, b.select(b.icmp_signed(">", reach, zero), reach, zero))
        empty = b.or_(empty, b.icmp_signed("<=", n, zero))
    size = L.Constant(I64, _BYTES[str(data.type.pointee)])
    base = b.ptrtoint(data, I64)
    first = b.add(base, b.mul(low, size))
    last = b.add(b.add(base, b.mul(high, size)), b.sub(size, L.Constant(I64, 1)))
    return first, last, empty


def _disjoint(lw: Any, e: ir.CallBuiltin) -> L.Value:
    b = lw.b
    written = e.args[0].value  # type: ignore[union-attr]
    slots = [a.slot for a in e.args[1:]]  # type: ignore[union-attr]
    extents = [_extent(lw, s) for s in slots]
    ok: L.Value = L.Constant(I1, 1)
    for i in range(written):
        for j in range(len(slots)):
            if j == i or (j < written and j < i):
                continue  # an array with itself; a pair of written arrays is checked once
            (f1, l1, e1), (f2, l2, e2) = extents[i], extents[j]
            apart = b.or_(b.icmp_unsigned("<", l1, f2), b.icmp_unsigned("<", l2, f1))
            ok = b.and_(ok, b.or_(apart, b.or_(e1, e2)))
    return ok


#: fields of the environment the threads of one split share (the captured values follow)
_COUNTER, _CHUNKS, _START, _STOP, _GRAIN, _DEPTH, _DONE, _STATUS, _CTX = range(9)
_CAPTURED = 9
#: chunks per thread: threads take chunks as they come, so one the OS starves holds up little
CHUNKS_PER_THREAD = 16


def _run(lw: Any, e: ir.CallBuiltin) -> None:
    b = lw.b
    impl = lw.decls[e.args[0].name]  # type: ignore[union-attr]
    start, stop = lw.expr(e.args[1]), lw.expr(e.args[2])
    captured: list[L.Value] = []
    for a in e.args[3:]:
        if isinstance(a, ir.LocalGet) and a.slot in lw.arrays:
            data, lengths, strides = lw.array_parts(a.slot)
            captured += [data, *lengths, *strides]
        else:
            captured.append(lw.expr(a))
    env_t = L.LiteralStructType([I64] * 7 + [I32, lw.ctx.type] + [v.type for v in captured])
    take = _take(lw.m, impl, env_t, len(captured))
    one, zero, zero32 = L.Constant(I64, 1), L.Constant(I64, 0), L.Constant(I32, 0)
    threads = b.load(_global(lw.m, THREADS_GLOBAL, 1))
    rows = b.sub(stop, start)
    count = _min(b, _min(b, threads, L.Constant(I64, MAX_THREADS)), rows)
    count = b.select(b.icmp_signed("<", count, one), one, count)
    pieces = _min(b, b.mul(count, L.Constant(I64, CHUNKS_PER_THREAD)), rows)
    pieces = b.select(b.icmp_signed("<", pieces, one), one, pieces)
    grain = b.sdiv(b.add(rows, b.sub(pieces, one)), pieces)  # rows per chunk, rounded up
    chunks = b.sdiv(b.add(rows, b.sub(grain, one)), grain)
    # on the caller's stack: the pool is closed (no worker inside the job) before this call returns
    env = _entry_alloca(lw, env_t)

    def field(k: int) -> L.Value:
        return b.gep(env, [L.Constant(I32, 0), L.Constant(I32, k)])
    for k, v in enumerate([zero, chunks, start, stop, grain, lw.deeper, zero, zero32, lw.ctx] + captured):
        b.store(v, field(k))
    raw = b.bitcast(env, I8P)
    submit = _declare(lw.m, "nd_pool_submit", I32, [take.type, I8P])
    shared = b.call(submit, [take, raw])
    b.call(take, [raw])  # the calling thread takes chunks too
    # then waits until every chunk taken is finished (a worker may still be on one)
    spin, wait, done = lw.new_block("par.spin"), lw.new_block("par.wait"), lw.new_block("par.done")
    b.branch(spin)
    b.position_at_end(spin)
    finished = b.load_atomic(field(_DONE), "acquire", 8)
    b.cbranch(b.icmp_signed(">=", finished, chunks), done, wait)
    b.position_at_end(wait)
    b.call(_declare(lw.m, "sched_yield", I32, []), [])
    b.branch(spin)
    b.position_at_end(done)
    with b.if_then(b.icmp_signed("!=", shared, zero32)):
        b.call(_declare(lw.m, "nd_pool_close", L.VoidType(), []), [])
    lw.propagate(b.load_atomic(field(_STATUS), "acquire", 4))


def _min(b: L.IRBuilder, x: L.Value, y: L.Value) -> L.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)


def _declare(m: L.Module, name: str, ret: L.Type, args: list[L.Type]) -> L.Function:
    fn = m.globals.get(name)
    return fn if fn is not None else L.Function(m, L.FunctionType(ret, args), name=name)


def _take(m: L.Module, impl: L.Function, env_t: L.LiteralStructType, n_captured: int) -> L.Function:
    """`void take(i8* env)`: take the next chunk of rows (an atomic counter) and run it, until none
    is left — after a failure, chunks are counted done without running (the first failing status
    stays).  The pool's workers and the calling thread all run it."""
    from noodle.backends.llvm.lower import CHUNK, status_of

    name = impl.name + "_take"
    existing = m.globals.get(name)
    if existing is not None:
        return existing
    take = L.Function(m, L.FunctionType(L.VoidType(), [I8P]), name=name)
    take.linkage = "internal"
    entry, next_, run, skip, done = (take.append_basic_block(x) for x in ("entry", "next", "run", "skip", "done"))
    b = L.IRBuilder(entry)
    env = b.bitcast(take.args[0], L.PointerType(env_t))

    def field(k: int) -> L.Value:
        return b.gep(env, [L.Constant(I32, 0), L.Constant(I32, k)])
    captured = [b.load(field(_CAPTURED + k)) for k in range(n_captured)]
    chunks, start, stop = b.load(field(_CHUNKS)), b.load(field(_START)), b.load(field(_STOP))
    grain, depth, ctx = b.load(field(_GRAIN)), b.load(field(_DEPTH)), b.load(field(_CTX))
    b.branch(next_)
    b.position_at_end(next_)
    k = b.atomic_rmw("add", field(_COUNTER), L.Constant(I64, 1), "monotonic")
    failed = b.icmp_signed("!=", b.load_atomic(field(_STATUS), "monotonic", 4), L.Constant(I32, 0))
    check = take.append_basic_block("check")
    b.cbranch(b.icmp_signed("<", k, chunks), check, done)
    b.position_at_end(check)
    b.cbranch(failed, skip, run)
    b.position_at_end(run)
    lo = b.add(start, b.mul(k, grain))
    hi = _min(b, b.add(lo, grain), stop)
    # each chunk counts a chunk of steps of its own (threads split a nest only without a step
    # limit: nothing is charged, and nd_refill only reads the stop flag)
    r = b.call(impl, [ctx] + captured + [lo, hi, depth, L.Constant(I64, CHUNK)])
    status = b.extract_value(r, status_of(r))
    b.cmpxchg(field(_STATUS), L.Constant(I32, 0), status, "monotonic", "monotonic")  # the first failure stays
    b.branch(skip)
    b.position_at_end(skip)
    b.atomic_rmw("add", field(_DONE), L.Constant(I64, 1), "release")  # its writes are seen by the waiter
    b.branch(next_)
    b.position_at_end(done)
    b.ret_void()

    return take


def _entry_alloca(lw: Any, ty: L.Type) -> L.Value:
    """A stack slot allocated in the function's entry block (an alloca inside a loop would grow
    the stack on every iteration)."""
    b = lw.b
    here = b.block
    b.position_at_start(lw.fn.entry_basic_block)
    slot = b.alloca(ty)
    b.position_at_end(here)
    return slot
