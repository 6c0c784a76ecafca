"""`parallel.map` and `parallel.reduce` as a program runs them: sample, place, dispatch, report.

A host installs a :class:`ParallelRunner` in the machine's `parallel` slot.  Each call runs `f`
inline on the first elements until a small time budget is spent (a map that finishes inside it
never pays any overhead); the measured seconds per element and the targets' measured overheads
then decide where the rest runs (:mod:`noodle.parallel.placement`).  Results keep their order; an
element that raises comes back as that Noodle error, its message naming the element, its stack
ending with the task's own Noodle frames.  Each task carries the program's globals as they were
when the map began (workers never run a module's top-level code) and names the map's large Arrays,
which each target sends once (:mod:`noodle.parallel.state`, `SharedFiles`, `Scattered`).
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from dataclasses import dataclass

import msgspec

from noodle.errors import NoodleError
from noodle.format.module_file import decode
from noodle.parallel.placement import Decision, TargetCost, Work, choose
from noodle.parallel.pool import LocalPool, cores
from noodle.parallel.state import snapshot, struct_classes
from noodle.parallel.wire import (ModuleBundle, ResultMessage, StructMismatch, TaskMessage, bundle_of,
                                  decode_values, encode_values)
from noodle.runtime.errors import Frame, to_error
from noodle.runtime.linemap import CODE_REGISTRY
from noodle.runtime.values import ErrorValue, nd_repr
from noodle.stdlib.natives import elements

#: inline time spent sampling `f` before placing the rest (a map shorter than this stays inline)
SAMPLE_BUDGET_S = 0.01
#: sampling stops early once the work left is clearly this long: the other cores wait meanwhile
OBVIOUS_WORK_S = 0.2


@dataclass(frozen=True, slots=True)
class Dispatch:
    """What one map sent to a target: the size of each task message, and the Arrays shared once."""

    target: str
    task_bytes: list[int]
    shared_arrays: int
    shared_bytes: int


class _Counted:
    """A `share` for estimates: counts distinct large Arrays, sends nothing."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def share(self, array: Any) -> int:
        self.seen.add(id(array))
        return len(self.seen) - 1


class TaskError(ErrorValue):
    """A Noodle error raised by a task in another process; `remote_frames` are its Noodle stack there."""

    def __init__(self, kind: str, message: str, frames: list[Frame]) -> None:
        super().__init__(kind, message)
        self.remote_frames = frames


def _element_note(op: str, index: int, x: Any) -> str:
    text = nd_repr(x)
    if len(text) > 60:
        text = text[:57] + "..."
    return f" (parallel.{op}, element {index}: {text})"


class ParallelRunner:
    """Runs the `parallel` natives of one machine.

    `module_bytes(name)` gives a module's verified `.nbc` bytes (the code that travels); `cluster`
    is a :class:`noodle.parallel.cluster.DaskCluster` or None; `log` writes each decision to stderr.
    """

    def __init__(self, machine: Any, module_bytes: Callable[[str], bytes], cluster: Any = None,
                 log: bool | None = None, pool_workers: int | None = None) -> None:
        self.machine = machine
        self.module_bytes = module_bytes
        self.cluster = cluster
        self.log = bool(os.environ.get("NOODLE_PARALLEL_LOG")) if log is None else log
        self.pool = LocalPool(pool_workers)
        self._bundles: dict[str, tuple[ModuleBundle, bytes]] = {}
        #: every decision taken, newest last (for tests, --explain and the benchmark)
        self.decisions: list[tuple[str, Decision]] = []
        #: force one target ("inline", "threads", "pool", "cluster"): benchmarks and tests compare them
        self.force: str | None = None
        #: cut maps run elsewhere into chunks of this many elements instead (tests that need several tasks)
        self.chunk: int | None = None
        #: what each map run elsewhere sent, newest last (tests observe message sizes here)
        self.dispatches: list[Dispatch] = []

    # -- the natives
    def map(self, f: Callable[[Any], Any], xs: Any) -> list[Any]:
        return self._run("map", f, list(elements(xs)))

    def reduce(self, f: Callable[[Any, Any], Any], xs: Any, init: Any) -> Any:
        partials = self._run("reduce", f, list(xs))
        acc = init
        for p in partials:
            acc = f(acc, p)
        return acc

    # -- one call
    def _run(self, op: str, f: Callable[..., Any], xs: list[Any]) -> list[Any]:
        """Map results in order, or for "reduce" the partial folds (in order) of consecutive chunks."""
        n = len(xs)
        results: list[Any] = []
        acc: Any = None
        done = 0
        force = self.force
        budget = float("inf") if force == "inline" else 0.0 if force else SAMPLE_BUDGET_S
        t0 = time.perf_counter()
        while done < n:
            if done:
                spent = time.perf_counter() - t0
                if spent >= budget or (force is None and spent / done * (n - done) >= OBVIOUS_WORK_S):
                    break
            if op == "map":
                results.append(self._call(op, f, xs, done))
            else:
                acc = xs[0] if done == 0 else self._call(op, f, xs, done, acc)
            done += 1
        seconds_per_element = (time.perf_counter() - t0) / max(done, 1)
        if done == n:
            if n:
                self._note(op, f, n, Decision("inline", {}, "every element ran within the sampling budget"
                                              if force != "inline" else "inline was asked for"))
            return results if op == "map" else ([acc] if n else [])
        rest = xs[done:]
        decision, where = self._place(op, f, rest, seconds_per_element, xs[:done])
        self._note(op, f, n, decision)
        head = results if op == "map" else [acc]
        if decision.target == "inline":
            if op == "map":
                return head + [self._call(op, f, xs, i) for i in range(done, n)]
            for i in range(done, n):
                acc = self._call(op, f, xs, i, acc)
            return [acc]
        if decision.target == "threads":
            return head + self._threads(op, f, xs, done)
        assert where is not None
        return head + self._remote(op, f, xs, done, where, seconds_per_element)

    def _call(self, op: str, f: Callable[..., Any], xs: list[Any], i: int, acc: Any = None) -> Any:
        """f on element i inline; a failure names the element."""
        x = xs[i]
        try:
            return f(x) if op == "map" else f(acc, x)
        except ErrorValue as e:
            e.f_message += _element_note(op, i, x)
            e.args = (e.f_message,)
            raise
        except Exception as e:  # noqa: BLE001 - a fault inside VM code is a Noodle error
            err = to_error(e)
            err.f_message += _element_note(op, i, x)
            raise err.with_traceback(e.__traceback__) from None

    # -- placement
    def _identify(self, f: Callable[..., Any]) -> tuple[str, str] | None:
        """(module, function) of a top-level function loaded in this machine."""
        for lm in self.machine.modules.values():
            for name, fn in lm.functions.items():
                if fn is f:
                    return lm.name, name
        return None

    def _place(self, op: str, f: Callable[..., Any], rest: list[Any], seconds_per_element: float,
               sampled: list[Any]) -> tuple[Decision, Any]:
        found = self._identify(f)
        work = Work(len(rest), seconds_per_element)
        targets: list[TargetCost] = []
        why_not: list[str] = []
        native = not _is_vm_code(f)
        if native and op == "map":
            targets.append(TargetCost("threads", cores(), 0.0, 50e-6))
        if found is None:
            why_not.append("f is not a top-level function of a loaded module: it cannot travel")
        else:
            try:
                size = len(encode_values(sampled, _Counted().share)) / max(len(sampled), 1)
                snapshot(self.machine, self._closure(found[0]), _Counted().share)
            except TypeError as e:
                why_not.append(f"its elements cannot travel ({e})" if "global" not in str(e) else str(e))
            else:
                work = Work(len(rest), seconds_per_element, size)
                if not native:  # native code runs on threads here; processes pay only overhead on top
                    targets.append(self.pool.cost())
                if self.cluster is not None:
                    targets.append(self.cluster.cost())
        if self.force is not None:
            targets = [t for t in targets if t.name == self.force]
            if not targets:
                why_not.append(f"{self.force} was asked for but is not available")
        decision = choose(work, targets, with_inline=self.force is None)
        if why_not:
            decision = Decision(decision.target, decision.estimates, decision.reason + "; " + "; ".join(why_not))
        where = {"pool": self.pool, "cluster": self.cluster}.get(decision.target)
        return decision, where

    def _note(self, op: str, f: Callable[..., Any], n: int, decision: Decision) -> None:
        name = getattr(f, "__noodle_name__", None) or getattr(f, "__name__", "?")
        self.decisions.append((f"{op}({name}, {n} elements)", decision))
        if self.log:
            sys.stderr.write(f"noodle parallel: {op}({name}, {n} elements) -> {decision.target}: {decision.reason}\n")

    # -- the targets
    def _threads(self, op: str, f: Callable[..., Any], xs: list[Any], done: int) -> list[Any]:
        with ThreadPoolExecutor(cores()) as ex:
            return list(ex.map(lambda i: self._call(op, f, xs, i), range(done, len(xs))))

    def _closure(self, module: str) -> list[str]:
        """`module` and everything it imports, directly or not."""
        needed: list[str] = []
        stack = [module]
        while stack:
            name = stack.pop()
            if name not in needed:
                needed.append(name)
                stack.extend(self.machine.modules[name].image.imports)
        return needed

    def _bundle(self, module: str) -> tuple[ModuleBundle, bytes]:
        cached = self._bundles.get(module)
        if cached is None:
            needed = self._closure(module)
            caps = [c for c in self.machine.capabilities._fields if getattr(self.machine.capabilities, c)]
            try:
                files = {name: self.module_bytes(name) for name in needed}
            except (NoodleError, OSError) as e:  # a source that no longer compiles, a file gone
                raise ErrorValue("ParallelError", f"the program's code could not be prepared for other processes: "
                                 f"{str(e).splitlines()[0]}") from None
            for name, data in files.items():
                # the bytes come from the sources now; the program runs what they were when it started
                if decode(data).source_hash != self.machine.modules[name].image.source_hash:
                    raise ErrorValue("ParallelError", f"module {name!r} changed since the program started: its "
                                     "workers would run other code than the program, so it runs nowhere else")
            bundle = bundle_of(module, files, caps)
            cached = self._bundles[module] = (bundle, msgspec.msgpack.encode(bundle))
        return cached

    def _remote(self, op: str, f: Callable[..., Any], xs: list[Any], done: int, where: Any,
                seconds_per_element: float) -> list[Any]:
        found = self._identify(f)
        assert found is not None
        module, function = found
        bundle, bundle_bytes = self._bundle(module)
        cost = where.cost()
        bounds = [done]
        left = len(xs) - done
        sizes = cost.chunks_for(Work(left, seconds_per_element)) if self.chunk is None \
            else [min(self.chunk, left - k) for k in range(0, left, self.chunk)]
        for size in sizes:
            bounds.append(bounds[-1] + size)
        shared = where.shared_arrays()
        try:
            state = snapshot(self.machine, list(bundle.modules), shared.share)
            payloads = [(lo, encode_values(xs[lo:hi], shared.share)) for lo, hi in zip(bounds, bounds[1:])]
            tasks = [msgspec.msgpack.encode(TaskMessage(bundle.key, module, bundle.hashes[module], function, lo,
                                                        payload, op, state, shared.refs))
                     for lo, payload in payloads]
            self.dispatches.append(Dispatch(cost.name, [len(t) for t in tasks], len(shared.refs), shared.nbytes))
            replies = where.run(bundle.key, bundle_bytes, tasks, shared)
        except ErrorValue:
            raise
        except Exception as e:  # noqa: BLE001 - a refused version, a lost cluster: a Noodle error here
            raise ErrorValue("ParallelError", f"parallel.{op} on the {cost.name} failed: {e}") from None
        finally:
            shared.close()
        classes = struct_classes(self.machine)
        out: list[Any] = []
        for data in replies:
            reply = msgspec.msgpack.decode(data, type=ResultMessage)
            if reply.failure is not None:
                fail = reply.failure
                frames = [Frame(*fr) for fr in fail.stack]
                raise TaskError(fail.kind, fail.message + _element_note(op, fail.index, xs[fail.index]), frames)
            try:
                out.extend(decode_values(reply.payload, lambda m, name: classes[(m, name)]))
            except StructMismatch as e:
                raise ErrorValue("ParallelError", f"parallel.{op}: a result was refused: {e}") from None
        return out

    def close(self) -> None:
        self.pool.close()
        if self.cluster is not None:
            self.cluster.close()


def _is_vm_code(f: Callable[..., Any]) -> bool:
    """Is f translated bytecode (holds the GIL), rather than native code (releases it)?"""
    code = getattr(f, "__code__", None)
    return code is not None and code.co_filename in CODE_REGISTRY
