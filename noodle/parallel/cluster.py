"""The cluster target: Dask distributed.

`local:N` starts a LocalCluster of N worker processes (stopped with the program); any other
address (`tcp://HOST:PORT`, `tls://...`) joins a running scheduler.  The program's code reaches
every worker once through a worker plugin (:class:`NoodleCode`, also installed on workers that
join later); tasks and results are msgspec bytes.  Dask reruns the tasks of a worker that dies;
a task whose element raises returns the failure as its result, so nothing is retried forever.
"""
from __future__ import annotations

import time
from typing import Any

from noodle.errors import NoodleError
from noodle.parallel.placement import TargetCost
from noodle.parallel.worker import install_bytes, run_task_bytes

#: seconds to wait for a scheduler before giving up
CONNECT_TIMEOUT_S = 10.0
#: seconds to wait for a first worker to answer
WORKER_WAIT_S = 120.0


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
        try:  # the first round trip warms the connection
            self.client.submit(_noop, 0, pure=False).result(timeout=WORKER_WAIT_S)
        except TimeoutError:
            self.close()
            raise ClusterError(f"no Dask worker of {address} answered within {WORKER_WAIT_S:.0f} s "
                               "(start some: noodle worker ADDRESS)") from None
        t1 = time.perf_counter()
        self.client.submit(_noop, 1, pure=False).result()
        self.per_task_s = time.perf_counter() - t1

    def workers(self) -> int:
        return max(1, sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values()))

    def worker_pids(self) -> dict[str, int]:
        return self.client.run(_pid)

    def cost(self) -> TargetCost:
        return TargetCost("cluster", self.workers(), 0.0, self.per_task_s)

    def run(self, bundle_key: str, bundle_bytes: bytes, tasks: list[bytes]) -> list[bytes]:
        if bundle_key not in self._plugins:
            self.client.register_plugin(code_plugin(bundle_bytes), name=f"noodle-{bundle_key}")
            self._plugins.add(bundle_key)
        futures = self.client.map(run_task_bytes, tasks, pure=False)
        return self.client.gather(futures)

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self._local is not None:
            self._local.close()
            self._local = None


def _noop(x: int) -> int:
    return x


def _pid() -> int:
    import os

    return os.getpid()
