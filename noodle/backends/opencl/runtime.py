"""Running kernel specs on the chosen device: programs, buffers, residency, the run itself.

One :class:`Runtime` per process (:func:`runtime`), made on the first dispatch: it opens the
device (noodle.backends.opencl.device), and keeps

- programs, built once per source and options (pyopencl also keeps the binaries on disk, keyed by
  source, options and device, so a second process skips the driver's compiler);
- device buffers, reused by size;
- the residency table: the device copy of each host array dispatches use, keyed by the ndarray's
  buffer (address, size, dtype, shape, strides).  A dispatch linked to the one before it in the
  same statement list (noodle.ir.kernels: `after`) finds the table as that one left it, less the
  arrays sharing memory with those the code between them may write (`stale`, passed with the
  values: the compiler knows them, or does not link the two); any other dispatch empties it
  first (the VM or native code may have written any array since).  What a kernel wrote is copied
  back when it ends — the device copy stays valid — unless the next statement is itself a
  dispatch (`keep`): then only when that run of adjacent dispatches ends (or when one of them
  declines and the loops run on the host).

`run` answers False — and the loops run as written — when the spec does not apply to these
values, or when its kernel flagged what the loops would raise on; the arrays on the host are then
as they were (a kernel's writes reach the host only after it succeeded).
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from noodle.backends.opencl import render
from noodle.backends.opencl.device import ENV, Choice, DeviceInfo, choose
from noodle.ir import nodes as ir
from noodle.ir.kernels import KernelSpec, decode, value_type
from noodle.ir.types import F32, FLOAT, I32, INT, ArrayT, prune

INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1
I32_MIN, I32_MAX = -(2 ** 31), 2 ** 31 - 1
#: NumPy dtype of each element type
DTYPES = {FLOAT: np.float64, F32: np.float32, INT: np.int64, I32: np.int32}
#: the most work-groups a reduction, scan or histogram uses (each item then takes a longer chunk)
MAX_GROUPS = 256
#: bins a histogram counts in local memory (more: straight into global memory)
LOCAL_BINS = 2048


class Declined(Exception):
    """Why a dispatch runs its loops instead (kept in `Runtime.last_declined` for tests and tools)."""


@dataclass
class Stats:
    """What the device did: for tests (residency) and the benchmark (transfer apart from kernels)."""

    runs: int = 0
    declined: int = 0
    uploads: int = 0
    downloads: int = 0
    bytes_moved: int = 0
    transfer_s: float = 0.0
    kernel_s: float = 0.0
    builds: int = 0
    build_s: float = 0.0
    internal: int = 0  # dispatches that failed inside this backend (a bug or a driver fault), not declined

    def copy(self) -> "Stats":
        return Stats(**self.__dict__)


@dataclass
class _Resident:
    buffer: Any
    host: np.ndarray
    dirty: bool = False
    borrowed: bool = False  # the ndarray's own memory (zero-copy), not a pooled buffer


@dataclass
class _Prepared:
    spec: KernelSpec
    kernel: render.Kernel
    program: Any
    kernels: dict[str, Any] = field(default_factory=dict)


class Runtime:
    """The device, its programs and buffers, and the residency table."""

    def __init__(self, choice: Choice) -> None:
        import pyopencl as cl

        self.cl = cl
        assert choice.device is not None and choice.info is not None
        self.info: DeviceInfo = choice.info
        self.context = cl.Context([choice.device])
        self.queue = cl.CommandQueue(self.context)
        self.lock = threading.RLock()
        self.stats = Stats()
        self.wg = 1 << int(math.log2(max(1, min(64, self.info.max_work_group))))
        self._specs: dict[str, KernelSpec] = {}
        self._prepared: dict[str, _Prepared | str] = {}  # spec text -> kernels, or why none
        self._programs: dict[tuple[str, str], Any] = {}
        self._pool: dict[int, list[Any]] = {}
        self._resident: dict[tuple, _Resident] = {}
        self._chain: tuple[str, int, int] | None = None  # (module, key, thread) of a dispatch that kept its arrays
        self._err = cl.Buffer(self.context, cl.mem_flags.READ_WRITE, 4)
        self._local = threading.local()  # the accumulators of this thread's last run
        self.last_declined = ""
        #: the device kind kernels are designed for: the device's own (tests run the GPU designs on a
        #: CPU device by setting "gpu": they compute the same on any device)
        self.design = self.info.kind

    def result(self, k: int) -> Any:
        """Accumulator `k` of this thread's last successful run (`opencl.result(k)`)."""
        return self._local.results[k]

    # -- programs
    def spec(self, text: str) -> KernelSpec:
        spec = self._specs.get(text)
        if spec is None:
            spec = self._specs[text] = decode(text)
        return spec

    def build(self, source: str) -> Any:
        options = " ".join(render.BUILD_OPTIONS)
        program = self._programs.get((source, options))
        if program is None:
            t = time.perf_counter()
            program = self.cl.Program(self.context, source).build(options=list(render.BUILD_OPTIONS))
            self.stats.builds += 1
            self.stats.build_s += time.perf_counter() - t
            self._programs[(source, options)] = program
        return program

    def prepare(self, text: str, spec: KernelSpec, local_bins: int = 0) -> _Prepared:
        cache_key = f"{local_bins}|{self.design}|{text}"
        found = self._prepared.get(cache_key)
        if isinstance(found, str):
            raise Declined(found)
        if found is not None:
            return found
        try:
            if not self.info.fp64 and _uses_doubles(spec):
                raise render.Unrenderable(f"the device ({self.info.name}) has no double precision")
            if spec.intent == "histogram" and not self.info.int64_atomics:
                raise render.Unrenderable("the device has no 64-bit atomics")
            kernel = render.render(spec, self.design, self.wg, local_bins, self.info.max_work_group)
            program = self.build(kernel.source)
        except render.Unrenderable as e:
            self._prepared[cache_key] = str(e)
            raise Declined(str(e)) from None
        except self.cl.Error as e:  # a driver that rejects the source: the loops run (and --explain says why)
            self._prepared[cache_key] = f"the OpenCL compiler rejected the kernel: {e}"
            raise Declined(self._prepared[cache_key]) from None
        prepared = _Prepared(spec, kernel, program, {n: self.cl.Kernel(program, n) for n in kernel.names})
        self._prepared[cache_key] = prepared
        return prepared

    # -- buffers
    def _buffer(self, nbytes: int) -> Any:
        free = self._pool.get(nbytes)
        if free:
            return free.pop()
        return self.cl.Buffer(self.context, self.cl.mem_flags.READ_WRITE, max(nbytes, 8))

    def _release(self, buf: Any, nbytes: int) -> None:
        self._pool.setdefault(nbytes, []).append(buf)

    def scratch(self, count: int, dtype: Any) -> tuple[Any, int]:
        nbytes = count * np.dtype(dtype).itemsize
        return self._buffer(nbytes), nbytes

    def upload(self, host: np.ndarray, writes: bool = False) -> Any:
        """The device copy of `host`: the resident one, else a fresh one.  On a CPU device an array
        the kernel only reads is not copied: the buffer is the ndarray's own memory (zero-copy).
        An array a kernel writes is always copied, so that its writes reach the host only when
        it succeeds."""
        key = _key(host)
        entry = self._resident.get(key)
        if entry is not None and not (writes and entry.borrowed):
            return entry.buffer
        if entry is not None:  # read in place before, written now: it needs a copy of its own
            self.forget(host)
        if not writes and self.info.kind == "cpu" and host.flags.c_contiguous and host.nbytes:
            mf = self.cl.mem_flags
            buf = self.cl.Buffer(self.context, mf.READ_ONLY | mf.USE_HOST_PTR, hostbuf=host)
            self._resident[key] = _Resident(buf, host, borrowed=True)
            return buf
        buf = self._buffer(host.nbytes)
        if host.nbytes:
            t = time.perf_counter()
            self.cl.enqueue_copy(self.queue, buf, np.ascontiguousarray(host))
            self.queue.finish()
            self.stats.transfer_s += time.perf_counter() - t
            self.stats.uploads += 1
            self.stats.bytes_moved += host.nbytes
        self._resident[key] = _Resident(buf, host)
        return buf

    def download(self, entry: _Resident) -> None:
        if entry.host.nbytes:
            t = time.perf_counter()
            self.cl.enqueue_copy(self.queue, entry.host, entry.buffer)
            self.queue.finish()
            self.stats.transfer_s += time.perf_counter() - t
            self.stats.downloads += 1
            self.stats.bytes_moved += entry.host.nbytes
        entry.dirty = False

    def flush(self) -> None:
        """End a chain: copy back what kernels wrote, give the buffers back to the pool."""
        for entry in self._resident.values():
            if entry.dirty:
                self.download(entry)
            if not entry.borrowed:
                self._release(entry.buffer, entry.host.nbytes)
        self._resident.clear()
        self._chain = None

    def sync(self) -> None:
        """Copy back what kernels wrote; the device copies stay, valid until the host writes."""
        for entry in self._resident.values():
            if entry.dirty:
                self.download(entry)

    def invalidate(self, written: "tuple[Any, ...] | list[Any]") -> None:
        """Drop the device copies of every array sharing memory with one the host may have written."""
        arrays = [w for w in written if isinstance(w, np.ndarray)]
        for key, entry in list(self._resident.items()):
            if any(np.may_share_memory(entry.host, w) for w in arrays):
                assert not entry.dirty  # (synced when the dispatch that wrote it ended)
                del self._resident[key]
                if not entry.borrowed:
                    self._release(entry.buffer, entry.host.nbytes)

    def forget(self, host: np.ndarray) -> None:
        """Drop the device copy of `host` without copying it back (a kernel that failed wrote it)."""
        entry = self._resident.pop(_key(host), None)
        if entry is not None and not entry.borrowed:
            self._release(entry.buffer, entry.host.nbytes)

    def written_back_first(self, hosts: list[np.ndarray]) -> None:
        """Before a kernel writes arrays in place: copy back what earlier kernels of the chain wrote
        into them, so that the host holds it should this kernel fail."""
        for h in hosts:
            entry = self._resident.get(_key(h))
            if entry is not None and entry.dirty:
                self.download(entry)

    # -- running
    def run(self, text: str, args: tuple[Any, ...], forced: bool, threshold: "dict[str, int] | None" = None) -> bool:
        with self.lock:
            spec = self.spec(text)
            args, stale = args[:len(spec.values)], args[len(spec.values):]
            me = (spec.module + "." + spec.function, spec.key, threading.get_ident())
            if self._chain is None or spec.after < 0 or self._chain != (me[0], spec.after, me[2]):
                self.flush()  # not after the dispatch before it: the host may have written anything
            else:
                self.invalidate(stale)  # only these may have been written since
            try:
                ok = self._run(text, spec, args, forced, threshold or {})
            except Declined as why:
                self.last_declined = str(why)
                self.stats.declined += 1
                ok = False
            except (KeyboardInterrupt, SystemExit):
                self.flush()
                raise
            except Exception as e:  # noqa: BLE001 - a fault of this backend or the driver: the loops run
                self.last_declined = f"the OpenCL backend failed ({type(e).__name__}: {e}): the loops ran"
                self.stats.internal += 1
                ok = False
            if ok:
                self._chain = me
                if not spec.keep:  # the host may read what it wrote: copied back, the device copies kept
                    self.sync()
            else:
                self.flush()
            return ok

    def _run(self, text: str, spec: KernelSpec, args: tuple[Any, ...], forced: bool, threshold: dict[str, int]) -> bool:
        env = {v.slot: a for v, a in zip(spec.values, args)}
        written = _written(spec)
        for v in spec.values:
            t = prune(value_type(v))
            if isinstance(t, ArrayT):
                a = env[v.slot]
                if not isinstance(a, np.ndarray) or a.dtype != DTYPES.get(t.elem) or a.ndim != t.ndim:
                    raise Declined(f"`{v.name}` is not an array of {t.elem} of {t.ndim} dimensions "
                                   "(an array from a host may hold other dtypes)")
                if v.slot in written and not a.flags.c_contiguous:
                    raise Declined(f"`{v.name}` is a non-contiguous view: a kernel writing it would need a "
                                   "scatter back (its elements are copied to a contiguous buffer only to be read)")
        arrays = [(v, env[v.slot]) for v in spec.values if isinstance(prune(value_type(v)), ArrayT)]
        for slot in written:
            w = env[slot]
            for v, x in arrays:
                if v.slot != slot and _key(x) != _key(w) and np.may_share_memory(w, x):
                    raise Declined(f"`{v.name}` shares memory with an array the loop writes: an iteration "
                                   "could read what another wrote")
        size = _work(spec, env)
        if not forced and size < threshold.get(spec.intent, 1 << 62):
            raise Declined(f"{size} elements, fewer than the {threshold.get(spec.intent)} from which "
                           "OpenCL measured faster here")
        local_bins = 0
        if spec.intent == "histogram":
            h = env[_histogram_target(spec)]
            local_bins = LOCAL_BINS if h.shape[0] <= LOCAL_BINS and self.info.local_mem >= 4 * LOCAL_BINS else 0
        prepared = self.prepare(text, spec, local_bins)
        self.stats.runs += 1
        run = {"map": self._map, "stencil": self._map, "scan": self._scan, "histogram": self._histogram,
               "gemm": self._gemm, "gemv": self._gemv, "jacobi": self._jacobi}.get(spec.intent, self._reduce)
        hosts = [env[s] for s in written]
        self.written_back_first(hosts)
        self.cl.enqueue_copy(self.queue, self._err, np.zeros(1, np.int32))
        try:
            ok = run(prepared, env)
            if ok:
                flag = np.zeros(1, np.int32)
                self.cl.enqueue_copy(self.queue, flag, self._err)
                self.queue.finish()
                ok = int(flag[0]) == 0
        except BaseException:
            for h in hosts:
                self.forget(h)
            raise
        if not ok:
            for h in hosts:
                self.forget(h)  # the kernel's writes never reach the host: the loops start from what it holds
            raise Declined("the kernel met what the loops raise on (an index out of bounds, an overflow, "
                           "a division by zero, ...): the loops run and raise it")
        for h in hosts:
            entry = self._resident.get(_key(h))
            if entry is not None:
                entry.dirty = True
        return True

    def _enqueue(self, kernel: Any, global_size: tuple[int, ...], local_size: "tuple[int, ...] | None",
                 *args: Any) -> None:
        t = time.perf_counter()
        kernel(self.queue, global_size, local_size, *args)
        self.queue.finish()
        self.stats.kernel_s += time.perf_counter() - t

    def value_args(self, spec: KernelSpec, env: dict[int, Any], skip: "set[int] | None" = None,
                   swap: "dict[int, Any] | None" = None) -> list[Any]:
        """Kernel arguments for the spec's values: each array's buffer and lengths, each scalar."""
        written = set(_written(spec))
        out: list[Any] = []
        for v in spec.values:
            if skip and v.slot in skip:
                continue
            t = prune(value_type(v))
            x = env[v.slot]
            if isinstance(t, ArrayT):
                out.append(swap[v.slot] if swap and v.slot in swap else self.upload(x, v.slot in written))
                out += [np.int64(n) for n in x.shape]
            else:
                out.append(_scalar(x, t))
        return out

    def _map(self, p: _Prepared, env: dict[int, Any]) -> bool:
        loops = render.loops_of(p.spec.nest)
        bounds = [(host_eval(lp.start, env), host_eval(lp.stop, env)) for lp in loops]
        extents = [max(0, hi - lo) for lo, hi in bounds]
        if 0 in extents:
            return True
        args = self.value_args(p.spec, env) + [np.int64(lo) for lo, _ in bounds] + \
            [np.int64(hi) for _, hi in bounds] + [self._err]
        self._enqueue(p.kernels[p.kernel.names[0]], *self.range(extents), *args)
        return True

    def range(self, extents: list[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(global, local) sizes covering `extents` (innermost first) in work-groups of a fixed size."""
        local = (self.wg,) if len(extents) == 1 else (self.wg // 8, 8) if self.wg >= 8 else (self.wg, 1)
        sizes = tuple(reversed(extents))
        return tuple(-(-n // l) * l for n, l in zip(sizes, local)), local

    def _chunks(self, total: int) -> tuple[int, int]:
        """(groups, chunk): each of groups * wg items takes a contiguous chunk of `total` iterations."""
        groups = max(1, min(MAX_GROUPS, -(-total // (self.wg * 16))))
        return groups, max(1, -(-total // (groups * self.wg)))

    def _reduce(self, p: _Prepared, env: dict[int, Any]) -> bool:
        spec = p.spec
        loops = render.loops_of(spec.nest)
        bounds = [(host_eval(lp.start, env), host_eval(lp.stop, env)) for lp in loops]
        extents = [max(0, hi - lo) for lo, hi in bounds]
        total = math.prod(extents)
        accs = render.accumulators(spec)
        if total == 0:
            self._local.results = [env[a.slot] for a in accs]
            return True
        groups, chunk = self._chunks(total)
        partial: list[Any] = []
        final: list[Any] = []
        scratch: list[tuple[Any, int]] = []
        dtypes = []
        for a in accs:
            dt = {"long": np.int64, "int": np.int32, "double": np.float64, "float": np.float32}[a.ty]
            for _ in a.parts():
                bp, bf = self.scratch(groups, dt), self.scratch(1, dt)
                scratch += [bp, bf]
                partial.append(bp[0])
                final.append(bf[0])
                dtypes.append(dt)
        lo1 = bounds[1][0] if len(bounds) > 1 else 0
        n1 = extents[1] if len(extents) > 1 else 1
        acc_slots = {a.slot for a in accs}
        args = self.value_args(spec, env, acc_slots) + [np.int64(bounds[0][0]), np.int64(lo1), np.int64(n1),
                                                         np.int64(total), np.int64(chunk)] + partial + [self._err]
        self._enqueue(p.kernels["partial"], (groups * self.wg,), (self.wg,), *args)
        self._enqueue(p.kernels["final"], (self.wg,), (self.wg,), *partial, np.int64(groups),
                      np.int64(-(-groups // self.wg)), *final, self._err)
        values = []
        for buf, dt in zip(final, dtypes):
            out = np.zeros(1, dt)
            self.cl.enqueue_copy(self.queue, out, buf)
            values.append(out[0])
        self.queue.finish()
        for buf, nbytes in scratch:
            self._release(buf, nbytes)
        results = []
        k = 0
        for a in accs:
            parts = values[k:k + len(a.parts())]
            k += len(a.parts())
            got = _finish(a, env[a.slot], parts)
            if got is None:
                return False
            results.append(got)
        self._local.results = results
        return True

    def _scan(self, p: _Prepared, env: dict[int, Any]) -> bool:
        spec = p.spec
        lp = spec.nest
        lo, hi = host_eval(lp.start, env), host_eval(lp.stop, env)
        total = max(0, hi - lo)
        acc = spec.results[0]
        t = prune(value_type(spec.locals[acc]))
        integer = t in (INT, I32)
        dt = np.int64 if integer else DTYPES[t]  # the running sums' width (render_scan)
        start = int(env[acc]) if integer else dt(env[acc])
        if total == 0:
            self._local.results = [env[acc]]
            return True
        groups, chunk = self._chunks(total)
        e, e_bytes = self.scratch(total, dt)
        totals, t_bytes = self.scratch(groups, dt)
        dummy, d_bytes = self.scratch(1, dt)
        values = self.value_args(spec, env, {acc})
        self._enqueue(p.kernels["elements"], *self.range([total]), *values, np.int64(lo), np.int64(total), e, self._err)
        self._enqueue(p.kernels["scan_blocks"], (groups * self.wg,), (self.wg,), e, np.int64(total), np.int64(chunk),
                      totals, self._err)
        self._enqueue(p.kernels["scan_blocks"], (self.wg,), (self.wg,), totals, np.int64(groups),
                      np.int64(-(-groups // self.wg)), dummy, self._err)
        self._enqueue(p.kernels["store"], *self.range([total]), *values, np.int64(lo), np.int64(total),
                      np.int64(chunk * self.wg), e, totals, dt(start), self._err)
        last = np.zeros(1, dt)
        self.cl.enqueue_copy(self.queue, last, totals, src_offset=(groups - 1) * last.itemsize)
        self.queue.finish()
        if not integer:  # the last running sum as the store kernel computed it (what the loop leaves in s)
            g = (total - 1) // (chunk * self.wg)
            e_last, offset = np.zeros(1, dt), np.zeros(1, dt)
            self.cl.enqueue_copy(self.queue, e_last, e, src_offset=(total - 1) * e_last.itemsize)
            if g > 0:
                self.cl.enqueue_copy(self.queue, offset, totals, src_offset=(g - 1) * offset.itemsize)
            self.queue.finish()
            self._local.results = [float(dt(start) + (offset[0] + e_last[0]))]
            for buf, nbytes in ((e, e_bytes), (totals, t_bytes), (dummy, d_bytes)):
                self._release(buf, nbytes)
            return True
        for buf, nbytes in ((e, e_bytes), (totals, t_bytes), (dummy, d_bytes)):
            self._release(buf, nbytes)
        result = start + int(last[0])
        least, most = (I32_MIN, I32_MAX) if t == I32 else (INT_MIN, INT_MAX)
        if not least <= result <= most:
            return False
        self._local.results = [result]
        return True

    def _histogram(self, p: _Prepared, env: dict[int, Any]) -> bool:
        spec = p.spec
        lp = spec.nest
        lo, hi = host_eval(lp.start, env), host_eval(lp.stop, env)
        total = max(0, hi - lo)
        if total == 0:
            return True
        h = env[_histogram_target(spec)]
        inc = abs(int(_histogram_increment(spec)))
        most = int(np.abs(h).max()) if h.size else 0
        if most + total * inc > INT_MAX:
            return False  # a bin could overflow: the loops raise where it does
        groups, chunk = self._chunks(total)
        if chunk * self.wg * inc >= I32_MAX:
            return False  # a group's local counts could overflow
        args = self.value_args(spec, env) + [np.int64(lo), np.int64(total), np.int64(chunk), self._err]
        self._enqueue(p.kernels["histogram"], (groups * self.wg,), (self.wg,), *args)
        return True

    def _blas_sizes(self, spec: KernelSpec, env: dict[int, Any]) -> list[int]:
        """The sizes a BLAS call's loops ran over (a negative one runs none), checked against the
        arrays: its guard held, so they fit, but a dispatch reads nothing out of bounds whatever."""
        if spec.intent == "gemm":
            m, n, k = (max(0, int(env[s])) for s in (1, 2, 3))
            a, b, c = env[5], env[6], env[8]
            shapes = [(a, (m, k) if spec.flags[0] == "N" else (k, m)), (b, (k, n) if spec.flags[1] == "N" else (n, k)),
                      (c, (m, n))]
            sizes = [m, n, k]
        else:
            m, n = (max(0, int(env[s])) for s in (1, 2))
            a, x, y = env[4], env[5], env[7]
            shapes = [(a, (m, n) if spec.flags[0] == "N" else (n, m)), (x, (n,)), (y, (m,))]
            sizes = [m, n]
        for arr, need in shapes:
            if any(want > have for want, have in zip(need, arr.shape)):
                raise Declined(f"the {spec.intent} call's sizes exceed its arrays")
        return sizes

    def _gemm(self, p: _Prepared, env: dict[int, Any]) -> bool:
        m, n, k = self._blas_sizes(p.spec, env)
        alpha, a, b, beta, c = (env[s] for s in range(4, 9))
        if 0 in (m, n):
            return True
        bufs = [self.upload(a), np.int64(a.shape[1]), self.upload(b), np.int64(b.shape[1]),
                self.upload(c, writes=True), np.int64(c.shape[1])]
        args = bufs + [np.int64(m), np.int64(n), np.int64(k), np.float64(alpha), np.float64(beta)]
        if p.kernel.tile:
            ts = p.kernel.tile
            self._enqueue(p.kernels["gemm"], (-(-n // ts) * ts, -(-m // ts) * ts), (ts, ts), *args)
        else:
            self._enqueue(p.kernels["gemm"], *self.range([m, n]), *args)
        return True

    def _gemv(self, p: _Prepared, env: dict[int, Any]) -> bool:
        m, n = self._blas_sizes(p.spec, env)
        alpha, a, x, beta, y = (env[s] for s in range(3, 8))
        if m == 0:
            return True
        args = [self.upload(a), np.int64(a.shape[1]), self.upload(x), self.upload(y, writes=True),
                np.int64(m), np.int64(n), np.float64(alpha), np.float64(beta)]
        self._enqueue(p.kernels["gemv"], *self.range([m]), *args)
        return True

    def _jacobi(self, p: _Prepared, env: dict[int, Any]) -> bool:
        spec = p.spec
        sweep_loop, stencil, back = spec.nest, spec.nest.body[0], spec.nest.body[1]
        sweeps = max(0, host_eval(sweep_loop.stop, env) - host_eval(sweep_loop.start, env))
        assert isinstance(stencil, ir.ForRange) and isinstance(back, ir.ForRange)
        b_slot = _store_target(stencil)
        a_slot = _store_target(back)
        a, b = env[a_slot], env[b_slot]
        arrays = [env[v.slot] for v in spec.values if isinstance(prune(value_type(v)), ArrayT)]
        for x in arrays:
            for y in (a, b):
                if x is not y and np.may_share_memory(x, y):
                    raise Declined("the sweeps' arrays share memory")
        loops = render.loops_of(stencil)
        bounds = [(host_eval(lp.start, env), host_eval(lp.stop, env)) for lp in loops]
        extents = [max(0, hi - lo) for lo, hi in bounds]
        if sweeps == 0 or 0 in extents:
            return True
        if any(lo < 0 or hi > n for (lo, hi), n in zip(bounds, a.shape)):
            return False  # the loops index from the end, or out of bounds: they say what happens
        if not (a.flags.c_contiguous and b.flags.c_contiguous):
            raise Declined("the sweeps' arrays are non-contiguous views")
        self.flush()
        first = self.upload(a, writes=True)
        second, nbytes = self._buffer(a.nbytes), a.nbytes
        self.cl.enqueue_copy(self.queue, second, first)  # both buffers hold `a` outside the region
        kernel = p.kernels["sweep"]
        src, dst = first, second
        try:
            for _ in range(sweeps):
                args = self.value_args(spec, env, swap={a_slot: src, b_slot: dst}) + \
                    [np.int64(lo) for lo, _ in bounds] + [np.int64(hi) for _, hi in bounds] + [self._err]
                self._enqueue(kernel, *self.range(extents), *args)
                src, dst = dst, src
            flag = np.zeros(1, np.int32)
            self.cl.enqueue_copy(self.queue, flag, self._err)
            self.queue.finish()
            if flag[0]:
                return False
            # after the sweeps `a` holds the last values (edges unchanged), `b` them inside the region
            t = time.perf_counter()
            self.cl.enqueue_copy(self.queue, a, src)
            self.queue.finish()
            self.stats.transfer_s += time.perf_counter() - t
            self.stats.downloads += 1
            region = tuple(slice(lo, hi) for lo, hi in bounds)
            b[region] = a[region]
        finally:
            self.forget(a)
            self._release(second, nbytes)
        return True


# ---------------------------------------------------------------- helpers

def _key(host: np.ndarray) -> tuple:
    return (host.__array_interface__["data"][0], host.nbytes, host.dtype.str, host.shape, host.strides)


def _scalar(x: Any, t: Any) -> Any:
    if t == FLOAT:
        return np.float64(x)
    if t == F32:
        return np.float32(x)
    if t == I32:
        return np.int32(x)
    if t == INT:
        return np.int64(x)
    return np.int8(1 if x else 0)  # bool: OpenCL kernels take no bool arguments (rendered as char)


def _uses_doubles(spec: KernelSpec) -> bool:
    return any(prune(value_type(v)) == FLOAT or (isinstance(prune(value_type(v)), ArrayT)
                                                 and prune(value_type(v)).elem == FLOAT)  # type: ignore[attr-defined]
               for v in spec.locals.values())


def _written(spec: KernelSpec) -> list[int]:
    """The array slots a spec's kernels write."""
    from noodle.ir.walk import walk

    if spec.nest is None:  # a BLAS call: it writes its last array
        return [spec.values[-1].slot]
    if spec.intent == "jacobi":
        return []  # the sweeps write back themselves
    return sorted({n.args[0].slot for n in walk(spec.nest)  # type: ignore[attr-defined]
                   if isinstance(n, ir.CallBuiltin) and n.name == "array.set"})


def _store_target(nest: ir.ForRange) -> int:
    from noodle.ir.walk import walk

    return next(n.args[0].slot for n in walk(nest)  # type: ignore[attr-defined]
                if isinstance(n, ir.CallBuiltin) and n.name == "array.set")


def _histogram_target(spec: KernelSpec) -> int:
    return _store_target(spec.nest)


def _histogram_increment(spec: KernelSpec) -> int:
    from noodle.ir.walk import walk

    store = next(n for n in walk(spec.nest) if isinstance(n, ir.CallBuiltin) and n.name == "array.set")
    return int(store.args[-1].b.value)  # type: ignore[attr-defined]


def _work(spec: KernelSpec, env: dict[int, Any]) -> int:
    """How many elements the dispatch touches: what the size thresholds are measured in."""
    if spec.intent == "gemm":  # multiply-adds
        return math.prod(max(0, int(env[s])) for s in (1, 2, 3))
    if spec.intent == "gemv":
        return math.prod(max(0, int(env[s])) for s in (1, 2))
    nest = spec.nest.body[0] if spec.intent == "jacobi" else spec.nest
    total = 1
    for lp in render.loops_of(nest):  # type: ignore[arg-type]
        total *= max(0, host_eval(lp.stop, env) - host_eval(lp.start, env))
    return total


def host_eval(e: ir.Expr, env: dict[int, Any]) -> int:
    """A loop bound (noodle.ir.kernels checked its form) from the values passed in."""
    if isinstance(e, ir.Const):
        return int(e.value)  # type: ignore[arg-type]
    if isinstance(e, ir.LocalGet):
        return int(env[e.slot])
    if isinstance(e, ir.CallBuiltin) and e.name == "range.incl_stop":  # `a..=b` stops after b
        r = host_eval(e.args[0], env) + 1
        if r > INT_MAX:
            raise Declined("an inclusive range up to the largest int")
        return r
    if isinstance(e, ir.CallBuiltin):
        return int(env[e.args[0].slot].shape[0])  # type: ignore[attr-defined]
    if isinstance(e, ir.Index):
        return int(env[e.obj.args[0].slot].shape[int(e.index.value)])  # type: ignore[attr-defined]
    if isinstance(e, ir.Binary):
        a, b = host_eval(e.a, env), host_eval(e.b, env)
        r = a + b if e.op == "int.add" else a - b if e.op == "int.sub" else a * b
        if not INT_MIN <= r <= INT_MAX:
            raise Declined("a loop bound overflows")
        return r
    raise Declined("a loop bound the host cannot compute")


def _finish(a: render.Acc, start: Any, parts: list[Any]) -> Any:
    """The accumulator's value after the loop: its start value folded with the kernel's result, or
    None where the loops would raise (an integer running sum or product out of range)."""
    if a.integer:
        least, most = (I32_MIN, I32_MAX) if a.ty == "int" else (INT_MIN, INT_MAX)
        s0 = int(start)
        if a.kind == "sum":
            total, high, low = (int(x) for x in parts)
            if s0 + high > most or s0 + low < least:
                return None
            return s0 + total
        value = int(parts[0])
        if a.kind == "product":
            r = s0 * value
            return r if least <= r <= most else None
        if a.kind == "min":
            return value if (value < s0 if a.acc_first else value <= s0) else s0
        return value if (value > s0 if a.acc_first else value >= s0) else s0
    s0 = float(start)
    value = float(parts[0])
    if a.kind in ("sum", "product"):
        r = s0 + value if a.kind == "sum" else s0 * value
        if a.ty == "float":
            from noodle.stdlib.narrow import to_f32
            return to_f32(r)
        return r
    if s0 != s0:
        return None  # a NaN start: where the loop's result lands depends on the order
    if a.kind == "min":
        return value if (value < s0 if a.acc_first else value <= s0) else s0
    return value if (value > s0 if a.acc_first else value >= s0) else s0


_runtime: "Runtime | None" = None
_choice: "Choice | None" = None
_lock = threading.Lock()


def runtime() -> "Runtime | None":
    """The process's runtime, made on first use; None when there is no device (see `why_none`)."""
    global _runtime, _choice
    if _choice is None:
        with _lock:
            if _choice is None:
                choice = choose()
                _runtime = Runtime(choice) if choice.device is not None else None
                _choice = choice
                from noodle.backends.opencl import selection
                selection.remember(os.environ.get(ENV, ""), choice.info)
    return _runtime


def why_none() -> str:
    """Why `runtime()` is None ("" when there is a device)."""
    runtime()
    return _choice.reason if _choice is not None else ""


def reset() -> None:
    """Forget the device and everything on it (tests; a changed NOODLE_OPENCL_DEVICE)."""
    global _runtime, _choice
    with _lock:
        if _runtime is not None:
            _runtime.flush()
        _runtime, _choice = None, None
