"""Noodle work spread over local cores and a Dask cluster, placed by measured cost.

`parallel.map(f, xs)` in a program reaches :class:`noodle.parallel.runner.ParallelRunner` through the
machine's `parallel` slot (a host installs it; a bare machine maps inline).  The runner samples `f`
on the first elements, asks :mod:`noodle.parallel.placement` where the rest runs best (inline,
native threads, a local process pool, the cluster), and ships code and data as
:mod:`noodle.parallel.wire` messages to :mod:`noodle.parallel.worker` code in the other processes.
"""
