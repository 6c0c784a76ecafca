"""The cluster target: Dask distributed.

`local:N` starts a LocalCluster of N worker processes (stopped with the program); any other
address (`tcp://HOST:PORT`, `tls://...`) joins a running scheduler.  The program's code reaches
every worker once through a worker plugin (:class:`NoodleCode`, also installed on workers that
join later); tasks and results are msgspec bytes, and a map's large Arrays are scattered once
(:class:`Scattered`) and reach its tasks as Dask arguments.  Dask reruns the tasks of a worker
that dies; a task whose element raises returns the failure as its result, so nothing is retried
forever.  A scheduler without workers is an error after :data:`WORKER_WAIT_S` (at start, or
when the last worker leaves during a map), never a wait without end.
"""
from __future__ import annotations

import os
import time
from typing import Any

from noodle.errors import NoodleError
from noodle.parallel.placement import TargetCost
from noodle.parallel.wire import SharedArray
from noodle.parallel.worker import install_bytes, run_task_bytes

#: seconds to wait for a scheduler before giving up
CONNECT_TIMEOUT_S = 10.0
#: seconds a scheduler may have no worker (at start, or during a map) before that is an error;
#: NOODLE_CLUSTER_WAIT sets it (workers that start slowly, e.g. from a batch queue, need more)
WORKER_WAIT_S = 5.0


def worker_wait_s() -> float:
    try:
        return max(0.1, float(os.environ.get("NOODLE_CLUSTER_WAIT", WORKER_WAIT_S)))
    except ValueError:
        return WORKER_WAIT_S


class ClusterError(NoodleError):
    """The cluster cannot be started or reached."""


def code_plugin(bundle_bytes: bytes) -> Any:
    """A Dask worker plugin that installs a program's code on each worker, also on workers that
    join later (verified on arrival; distributed is imported only when a cluster is used)."""
    from distributed import WorkerPlugin

    class NoodleCode(WorkerPlugin):
        def __init__(self, data: bytes) -> None:
            self.bundle_bytes = data

        def setup(self, worker: Any) -> None:
            install_bytes(self.bundle_bytes)

    return NoodleCode(bundle_bytes)


def parse_address(spec: str) -> tuple[str, int | None]:
    """("local", N) for `local:N`, else (address, None); raises ClusterError on a bad spec."""
    if spec.startswith("local:"):
        n = spec[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise ClusterError(f"bad cluster {spec!r}: write local:N with N >= 1 worker processes")
        return "local", int(n)
    if "://" not in spec:
        raise ClusterError(f"bad cluster {spec!r}: write local:N or a scheduler address such as tcp://HOST:8786")
    return spec, None


class DaskCluster:
    def __init__(self, spec: str) -> None:
        address, n = parse_address(spec)
        self.spec = spec
        self._local: Any = None
        self._plugins: set[str] = set()
        t0 = time.perf_counter()
        try:
            from distributed import Client, LocalCluster
        except ImportError as e:
            raise ClusterError(f"the cluster needs dask[distributed]: {e}") from None
        try:
            if n is not None:
                self._local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=50)
                self.client = Client(self._local)
            else:
                self.client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as e:
            self.close()
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        self.startup_s = time.perf_counter() - t0
        wait = worker_wait_s()
        try:  # the first round trip warms the connection
            self.client.wait_for_workers(1, timeout=wait)
            self.client.submit(_noop, 0, pure=False).result(timeout=wait)
        except TimeoutError:
            self.close()
            raise ClusterError(f"the Dask scheduler at {address} has no worker that answers (waited {wait:g} s; "
                               f"start some: noodle worker {address}, or set NOODLE_CLUSTER_WAIT)") from None
        t1 = time.perf_counter()
        self.client.submit(_noop, 1, pure=False).result()
        self.per_task_s = time.perf_counter() - t1

    def workers(self) -> int:
        return max(1, sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values()))

    def worker_pids(self) -> dict[str, int]:
        return self.client.run(_pid)

    def cost(self) -> TargetCost:
        return TargetCost("cluster", self.workers(), 0.0, self.per_task_s)

    def shared_arrays(self) -> "Scattered":
        return Scattered()

    def run(self, bundle_key: str, bundle_bytes: bytes, tasks: list[bytes],
            shared: "Scattered | None" = None) -> list[bytes]:
        from distributed import wait

        if bundle_key not in self._plugins:
            self.client.register_plugin(code_plugin(bundle_bytes), name=f"noodle-{bundle_key}")
            self._plugins.add(bundle_key)
        if shared is not None and shared.arrays:
            # once per map, on one worker each; Dask moves each to the workers whose tasks need it (once per worker)
            shared.futures = self.client.scatter(shared.arrays, hash=False)
            futures = [self.client.submit(run_task_bytes, t, *shared.futures, pure=False) for t in tasks]
        else:
            futures = self.client.map(run_task_bytes, tasks, pure=False)
        alone_since: float | None = None
        while True:  # Dask waits for workers without end: a map whose workers all left is an error
            try:
                wait(futures, timeout=1.0)
                break
            except TimeoutError:
                if self.client.scheduler_info().get("workers"):
                    alone_since = None
                elif alone_since is None:
                    alone_since = time.monotonic()
                elif time.monotonic() - alone_since > worker_wait_s():
                    self.client.cancel(futures)
                    raise ClusterError("the cluster has no workers left; the map is abandoned") from None
        return self.client.gather(futures)

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self._local is not None:
            self._local.close()
            self._local = None


class Scattered:
    """The cluster's shared Arrays for one map: collected while tasks are encoded, scattered once by
    `DaskCluster.run`, released when the map ends."""

    def __init__(self) -> None:
        self.refs: list[SharedArray] = []
        self.arrays: list[Any] = []
        self._index: dict[int, int] = {}
        self.futures: list[Any] = []
        self.nbytes = 0

    def share(self, array: Any) -> int:
        index = self._index.get(id(array))
        if index is None:
            index = self._index[id(array)] = len(self.refs)
            self.refs.append(SharedArray(array.dtype.str, list(array.shape)))
            self.arrays.append(array)
            self.nbytes += array.nbytes
        return index

    def close(self) -> None:
        for f in self.futures:
            f.release()
        self.futures = []
        self.arrays = []


def _noop(x: int) -> int:
    return x


def _pid() -> int:
    import os

    return os.getpid()
