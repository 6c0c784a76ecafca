"""The Python world at run time: values crossing into and out of Python, calls, and their log.

    crossing   Noodle value -> Python value and back; checked conversion of a `py` value to a Noodle type
    failures   a Python exception -> a catchable Noodle error of kind `PyError`
    kinds      the argument kinds a call is recorded under (`ndarray<float64>[3]`, `list<float>[100]`)
    sites      call sites and the operations compiled code performs on `py` values
    recorder   the usage log: per (name, signature, site) aggregation in memory, sampled timing
    usage_db   the usage log on disk: SQLite (WAL) at `.noodle/ale.sqlite`, flushed at exit
    samples    the bounded, size-limited encoding of captured inputs and outputs
    replacements  the table through which promoted replacements serve calls (a version counter)
"""
