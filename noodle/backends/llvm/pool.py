"""The worker threads that run the chunks of loop nests split across cores, started once per process.

Starting threads for every split costs tens of microseconds each time, and a split loop nest
inside a loop (the sweeps of a stencil) pays it on every iteration.  So the threads are started
once, at the first split, and wait between jobs — spinning briefly (the next split usually
follows within microseconds), then asleep on a condition variable.  The pool is a small module
of its own, built here as LLVM IR, compiled once per process (its machine code cached like any
other) and linked into every module that splits a nest:

    i32  nd_pool_submit(void (*job)(i8*), i8* env)   publish a job to the workers; 0 when the pool
                                                     is busy (another thread's split) or has no
                                                     workers: the caller then runs it alone
    void nd_pool_close()                             take the job back, once the caller has seen
                                                     every chunk finished: waits for the workers
                                                     still inside it, then frees the pool

A job is a function a worker calls with `env`: the split's `take`, which runs chunks of rows
until none is left (noodle.backends.llvm.threads).  The caller takes chunks too and waits for
all of them to be finished, so no worker is needed for progress: a worker that wakes late finds
nothing left, and one that cannot be started leaves its share to the others.  Closing waits only
for the workers that entered the job (they are running `take`, which ends when the chunks do),
so the job's environment can live on the caller's stack.

The protocol, all in sequentially consistent atomics: submitting stores the job, opens it and
bumps a generation counter; a worker seeing a new generation counts itself `inside`, then runs
the job only if it is still open.  Closing shuts the job, then waits until `inside` is zero —
a worker either entered before the close (and is waited for) or sees the job shut.  A worker
that found no new job for a while goes to sleep on the condition variable, after counting
itself a `sleeper` and checking the generation once more; a submitter that sees sleepers wakes
them all.  A child process forked from one with a pool has none of its threads: the pool
notices the new process id and starts again.
"""
from __future__ import annotations

import threading

from llvmlite import ir as L

I8, I32, I64 = L.IntType(8), L.IntType(32), L.IntType(64)
I8P = L.PointerType(I8)
JOB = L.PointerType(L.FunctionType(L.VoidType(), [I8P]))
WORKERS_GLOBAL = "nd_pool_workers"
#: bytes reserved for a pthread_mutex_t and a pthread_cond_t (40 and 48 on glibc, 64 and 48 on macOS)
_SYNC_BYTES = 256
#: sched_yield calls a worker makes looking for the next job before it goes to sleep
SPINS = 2000
#: the pool's C library functions: (name, return type, argument types)
LIBC = [("pthread_create", I32, [L.PointerType(I64), I8P, L.PointerType(L.FunctionType(I8P, [I8P])), I8P]),
        ("pthread_detach", I32, [I64]), ("pthread_mutex_init", I32, [I8P, I8P]),
        ("pthread_mutex_lock", I32, [I8P]), ("pthread_mutex_unlock", I32, [I8P]),
        ("pthread_cond_init", I32, [I8P, I8P]), ("pthread_cond_wait", I32, [I8P, I8P]),
        ("pthread_cond_broadcast", I32, [I8P]), ("sched_yield", I32, []), ("getpid", I32, [])]

_lock = threading.Lock()
_ready = False


def ensure() -> None:
    """Compile the pool (once per process) and make its two functions known to the linker."""
    global _ready
    with _lock:
        if _ready:
            return
        import llvmlite.binding as llvm

        from noodle.backends.llvm import jit
        from noodle.backends.llvm.threads import thread_count

        engine, _ = jit.compile_ir(str(build()))
        jit.set_global(engine, WORKERS_GLOBAL, thread_count() - 1)  # the caller is the other one
        for name in ("nd_pool_submit", "nd_pool_close"):
            llvm.add_symbol(name, engine.get_function_address(name))
        _ready = True


class _Pool:
    """The pool's globals and the C functions it calls, in the module being built."""

    def __init__(self, m: L.Module) -> None:
        self.m = m

        def word(name: str, init: int = 0) -> L.GlobalVariable:
            g = L.GlobalVariable(m, I64, name=name)
            g.initializer = L.Constant(I64, init)
            return g
        # `workers` is set when the module is linked: how many threads to start besides the caller
        self.busy, self.pid, self.started, self.workers = (word(n) for n in (
            "nd_pool_busy", "nd_pool_pid", "nd_pool_started", WORKERS_GLOBAL))
        self.generation, self.open, self.inside, self.sleepers = (word(n) for n in (
            "nd_pool_generation", "nd_pool_open", "nd_pool_inside", "nd_pool_sleepers"))
        self.job = L.GlobalVariable(m, JOB, name="nd_pool_job")
        self.job.initializer = L.Constant(JOB, None)
        self.env = L.GlobalVariable(m, I8P, name="nd_pool_env")
        self.env.initializer = L.Constant(I8P, None)
        self.mutex, self.cond = (self._sync(n) for n in ("nd_pool_mutex", "nd_pool_cond"))
        self.libc = {name: L.Function(m, L.FunctionType(ret, args), name=name) for name, ret, args in LIBC}

    def _sync(self, name: str) -> L.GlobalVariable:
        g = L.GlobalVariable(self.m, L.ArrayType(I8, _SYNC_BYTES), name=name)
        g.initializer = L.Constant(L.ArrayType(I8, _SYNC_BYTES), None)
        g.align = 64
        return g

    def ptr(self, b: L.IRBuilder, g: L.GlobalVariable) -> L.Value:
        return b.bitcast(g, I8P)

    def call(self, b: L.IRBuilder, name: str, *args: L.Value) -> L.Value:
        return b.call(self.libc[name], list(args))


def build() -> L.Module:
    """The pool's module: `nd_pool_submit`, `nd_pool_close` and the workers' loop."""
    m = L.Module(name="noodle_pool")
    p = _Pool(m)
    worker = _worker(p)
    _submit(p, worker)
    _close(p)
    return m


def _load(b: L.IRBuilder, g: L.Value) -> L.Value:
    return b.load_atomic(g, "seq_cst", 8)


def _store(b: L.IRBuilder, v: L.Value, g: L.Value) -> None:
    b.store_atomic(v, g, "seq_cst", 8)


def _worker(p: _Pool) -> L.Function:
    fn = L.Function(p.m, L.FunctionType(I8P, [I8P]), name="nd_pool_worker")
    fn.linkage = "internal"
    entry, look, new, run, after, idle, sleep, wait, sleeping, woke = (
        fn.append_basic_block(n) for n in ("entry", "look", "new", "run", "after", "idle", "sleep", "wait",
                                           "sleeping", "woke"))
    b = L.IRBuilder(entry)
    seen, spins = b.alloca(I64, name="seen"), b.alloca(I64, name="spins")
    b.store(_load(b, p.generation), seen)
    b.store(L.Constant(I64, 0), spins)
    b.branch(look)

    b.position_at_end(look)  # a new job since the last one seen?
    now = _load(b, p.generation)
    b.cbranch(b.icmp_unsigned("!=", now, b.load(seen)), new, idle)

    b.position_at_end(new)
    b.store(now, seen)
    b.store(L.Constant(I64, 0), spins)
    b.atomic_rmw("add", p.inside, L.Constant(I64, 1), "seq_cst")
    b.cbranch(b.icmp_unsigned("!=", _load(b, p.open), L.Constant(I64, 0)), run, after)
    b.position_at_end(run)
    job = b.load_atomic(p.job, "seq_cst", 8)
    b.call(job, [b.load_atomic(p.env, "seq_cst", 8)])
    b.branch(after)
    b.position_at_end(after)
    b.atomic_rmw("sub", p.inside, L.Constant(I64, 1), "seq_cst")
    b.branch(look)

    b.position_at_end(idle)  # nothing new: look again a while, then sleep
    count = b.add(b.load(spins), L.Constant(I64, 1))
    b.store(count, spins)
    p.call(b, "sched_yield")
    b.cbranch(b.icmp_signed("<", count, L.Constant(I64, SPINS)), look, sleep)

    b.position_at_end(sleep)
    p.call(b, "pthread_mutex_lock", p.ptr(b, p.mutex))
    b.atomic_rmw("add", p.sleepers, L.Constant(I64, 1), "seq_cst")
    b.branch(wait)
    b.position_at_end(wait)  # (checked after counting itself a sleeper: a submitter either sees it, or it sees the job)
    b.cbranch(b.icmp_unsigned("==", _load(b, p.generation), b.load(seen)), sleeping, woke)
    b.position_at_end(sleeping)
    p.call(b, "pthread_cond_wait", p.ptr(b, p.cond), p.ptr(b, p.mutex))
    b.branch(wait)
    b.position_at_end(woke)
    b.atomic_rmw("sub", p.sleepers, L.Constant(I64, 1), "seq_cst")
    p.call(b, "pthread_mutex_unlock", p.ptr(b, p.mutex))
    b.store(L.Constant(I64, 0), spins)
    b.branch(look)
    return fn


def _submit(p: _Pool, worker: L.Function) -> None:
    fn = L.Function(p.m, L.FunctionType(I32, [JOB, I8P]), name="nd_pool_submit")
    entry, mine, fresh, ready, start, spawn, spawned, next_, started, publish, wake, submitted, done, refuse = (
        fn.append_basic_block(n) for n in ("entry", "mine", "fresh", "ready", "start", "spawn", "spawned", "next",
                                           "started", "publish", "wake", "submitted", "done", "refuse"))
    zero, one = L.Constant(I64, 0), L.Constant(I64, 1)
    b = L.IRBuilder(entry)
    tid = b.alloca(I64, name="tid")
    k = b.alloca(I64, name="k")
    got = b.cmpxchg(p.busy, zero, one, "seq_cst", "seq_cst")
    b.cbranch(b.extract_value(got, 1), mine, refuse)

    b.position_at_end(mine)  # a process forked from one with a pool has none of its threads
    pid = b.sext(p.call(b, "getpid"), I64)
    b.cbranch(b.icmp_unsigned("!=", pid, b.load(p.pid)), fresh, ready)
    b.position_at_end(fresh)
    b.store(pid, p.pid)
    for g in (p.started, p.inside, p.sleepers, p.open):
        _store(b, zero, g)
    p.call(b, "pthread_mutex_init", p.ptr(b, p.mutex), L.Constant(I8P, None))
    p.call(b, "pthread_cond_init", p.ptr(b, p.cond), L.Constant(I8P, None))
    b.branch(start)

    b.position_at_end(start)  # start the workers (once per process)
    b.store(zero, k)
    b.branch(spawn)
    b.position_at_end(spawn)
    b.cbranch(b.icmp_signed("<", b.load(k), b.load(p.workers)), spawned, started)
    b.position_at_end(spawned)
    rc = p.call(b, "pthread_create", tid, L.Constant(I8P, None), worker, L.Constant(I8P, None))
    ok = b.icmp_signed("==", rc, L.Constant(I32, 0))
    with b.if_then(ok):
        p.call(b, "pthread_detach", b.load(tid))
        b.atomic_rmw("add", p.started, one, "seq_cst")
    b.branch(next_)
    b.position_at_end(next_)
    b.store(b.add(b.load(k), one), k)
    b.branch(spawn)
    b.position_at_end(started)
    b.branch(ready)

    b.position_at_end(ready)
    b.cbranch(b.icmp_signed(">", _load(b, p.started), zero), publish, done)
    b.position_at_end(publish)
    b.store_atomic(fn.args[0], p.job, "seq_cst", 8)
    b.store_atomic(fn.args[1], p.env, "seq_cst", 8)
    _store(b, one, p.open)
    b.atomic_rmw("add", p.generation, one, "seq_cst")
    # (read after the generation moved: a worker either counted itself a sleeper already, or sees the job)
    b.cbranch(b.icmp_signed(">", _load(b, p.sleepers), zero), wake, submitted)
    b.position_at_end(wake)
    p.call(b, "pthread_mutex_lock", p.ptr(b, p.mutex))
    p.call(b, "pthread_cond_broadcast", p.ptr(b, p.cond))
    p.call(b, "pthread_mutex_unlock", p.ptr(b, p.mutex))
    b.branch(submitted)
    b.position_at_end(submitted)
    b.ret(L.Constant(I32, 1))

    b.position_at_end(done)  # no workers: the caller runs the job alone
    _store(b, zero, p.busy)
    b.ret(L.Constant(I32, 0))
    b.position_at_end(refuse)
    b.ret(L.Constant(I32, 0))


def _close(p: _Pool) -> None:
    fn = L.Function(p.m, L.FunctionType(L.VoidType(), []), name="nd_pool_close")
    entry, wait, yield_, done = (fn.append_basic_block(n) for n in ("entry", "wait", "yield", "done"))
    b = L.IRBuilder(entry)
    _store(b, L.Constant(I64, 0), p.open)
    b.branch(wait)
    b.position_at_end(wait)  # a worker inside the job is running out of chunks: it is done soon
    b.cbranch(b.icmp_signed(">", _load(b, p.inside), L.Constant(I64, 0)), yield_, done)
    b.position_at_end(yield_)
    p.call(b, "sched_yield")
    b.branch(wait)
    b.position_at_end(done)
    _store(b, L.Constant(I64, 0), p.busy)
    b.ret_void()
