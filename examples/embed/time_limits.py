"""A sandboxed VM with only a time limit: one long operation cannot run past it (make demo).

Sorting millions of strings or multiplying big matrices is one step of the program but seconds of
work in one C call; under `max_seconds` such operations are estimated before they start, or run in
pieces with the deadline checked between them (docs/embedding.md, "Limits").
"""
import time

import noodle

SOURCE = """
fn words(n: int) -> List<str> {
    var out: List<str> = []
    for i in range(n) { out.append(str((i * 7919) % 1000003)) }
    return out
}
fn sort_them(xs: List<str>) -> int {
    let s = sorted(xs)
    return len(s)
}
fn product(n: int) -> float {
    let a = ones(n, n)
    let c = a @ a
    return c[0, 0]
}
"""
vm = noodle.VM(limits=noodle.Limits(max_seconds=1.0))
app = vm.load(noodle.Source(SOURCE, name="app"))
print(f"sort_them(words(1000)) = {app.sort_them(app.words(1000))}; product(50) = {app.product(50)}")
many = ["%07d" % ((i * 7919) % 4000037) for i in range(4_000_000)]
for call, run in (("sort_them(4M strings)", lambda: app.sort_them(many)), ("product(4000)", lambda: app.product(4000))):
    start = time.monotonic()
    try:
        run()
        print(f"{call} finished in {time.monotonic() - start:.2f} s")
    except noodle.LimitExceeded as e:
        print(f"{call} stopped after {time.monotonic() - start:.2f} s of max_seconds=1: {e}")
