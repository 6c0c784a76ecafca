"""A local pool of worker processes for VM code (one per core).

Started on first use (its start-up is measured and kept for the placement of later maps);
each process receives the program's bundle once and runs tasks with :mod:`noodle.parallel.worker`.
Processes are forked from a process that holds no threads of ours, else started fresh ("spawn").
Large Arrays go once per map into shared memory (:class:`SharedFiles`: files on the RAM-backed
`/dev/shm` where there is one), and tasks name them.  A process that dies mid-map (killed, out of
memory) costs a restart of the pool: the tasks without a result run again, once.
"""
from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from noodle.parallel.placement import TargetCost
from noodle.parallel.wire import SharedArray
from noodle.parallel.worker import install_bytes, run_task_bytes

#: assumed until the first start measures it: a fork, an import of the VM, a bundle load
ASSUMED_STARTUP_S = 0.25
ASSUMED_PER_TASK_S = 0.002


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class PoolLost(Exception):
    """The pool lost a process again while rerunning a map's tasks."""


class SharedFiles:
    """The pool's shared Arrays for one map: each written once to a file in shared memory, which every
    task that holds it reads (and copies); the files are removed when the map ends."""

    def __init__(self) -> None:
        self.refs: list[SharedArray] = []
        self._index: dict[int, int] = {}
        self._held: list[Any] = []  # keeps every shared array alive, so that its id names it
        self.nbytes = 0

    def share(self, array: Any) -> int:
        index = self._index.get(id(array))
        if index is None:
            folder = "/dev/shm" if os.path.isdir("/dev/shm") else None  # RAM, where the system has it
            fd, path = tempfile.mkstemp(prefix="noodle-shared-", suffix=".bin", dir=folder)
            with os.fdopen(fd, "wb") as f:
                array.tofile(f)
            index = self._index[id(array)] = len(self.refs)
            self.refs.append(SharedArray(array.dtype.str, list(array.shape), path))
            self._held.append(array)
            self.nbytes += array.nbytes
        return index

    def close(self) -> None:
        for ref in self.refs:
            try:
                os.unlink(ref.path)
            except OSError:
                pass
        self._held.clear()


class LocalPool:
    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or cores()
        self._executor: ProcessPoolExecutor | None = None
        self._bundle_key: str | None = None
        self.startup_s: float | None = None
        self.per_task_s: float | None = None

    def cost(self) -> TargetCost:
        if self.startup_s is None:
            return TargetCost("pool", self.workers, ASSUMED_STARTUP_S, ASSUMED_PER_TASK_S,
                              source="assumed until first use")
        running = self._executor is not None
        return TargetCost("pool", self.workers, 0.0 if running else self.startup_s, self.per_task_s or 0.0)

    def _start(self, bundle_key: str, bundle_bytes: bytes) -> None:
        if self._executor is not None and self._bundle_key == bundle_key:
            return
        self.close()
        method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() \
            else "spawn"
        t0 = time.perf_counter()
        self._executor = ProcessPoolExecutor(self.workers, multiprocessing.get_context(method),
                                             initializer=install_bytes, initargs=(bundle_bytes,))
        # one empty round per worker: the processes exist and hold the code before timing tasks
        list(self._executor.map(_noop, range(self.workers)))
        self.startup_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        self._executor.submit(_noop, 0).result()
        self.per_task_s = time.perf_counter() - t1
        self._bundle_key = bundle_key

    def shared_arrays(self) -> SharedFiles:
        return SharedFiles()

    def worker_pids(self) -> list[int]:
        """The pool's processes (for tests that kill one)."""
        return list(self._executor._processes) if self._executor is not None else []  # type: ignore[attr-defined]

    def run(self, bundle_key: str, bundle_bytes: bytes, tasks: list[bytes], shared: SharedFiles) -> list[bytes]:
        self._start(bundle_key, bundle_bytes)
        assert self._executor is not None
        futures: list[Future[bytes]] = [self._executor.submit(run_task_bytes, t) for t in tasks]
        try:
            return [f.result() for f in futures]
        except BrokenProcessPool:
            # a worker died (killed, out of memory): tasks are pure functions of their message, so
            # the ones without a result run again on a fresh pool and give the same results
            done = [f.result() if f.done() and f.exception() is None else None for f in futures]
            self.close()
            self._start(bundle_key, bundle_bytes)
            assert self._executor is not None
            again = {i: self._executor.submit(run_task_bytes, t) for i, t in enumerate(tasks) if done[i] is None}
            try:
                return [done[i] if done[i] is not None else again[i].result() for i in range(len(tasks))]
            except BrokenProcessPool:
                self.close()  # the next map starts a fresh pool
                raise PoolLost("a pool process died twice during this map (killed, or out of memory?); "
                               "the map is abandoned") from None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _noop(x: int) -> int:
    return x
