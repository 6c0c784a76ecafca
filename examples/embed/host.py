"""A host application embedding Noodle: load, call, sandbox, upgrade live, roll back.

Run it from the repository root:  .venv/bin/python examples/embed/host.py
"""
from pathlib import Path

import noodle

HERE = Path(__file__).parent

vm = noodle.VM(capabilities=noodle.Capabilities(fs_read=False, fs_write=False, py_import=False),
               limits=noodle.Limits(max_steps=10_000_000, max_seconds=5.0, max_memory_mb=256, max_depth=500))
vm.register_module("host", {"log": (lambda text: print(f"[noodle] {text}"), "fn(str) -> none")})

app = vm.load(HERE / "app.nd")
print(app.fib(20), vm.call("app.fib", 10))
print(app.greet("ada"))

report = vm.upgrade(HERE / "app_v2.nd", run_tests=True)
print(report)
print(app.greet("grace"), "served:", app.served)

try:  # a runaway program ends in a clear error, and the VM stays usable
    vm.load(noodle.Source("fn spin() { while true { } }", name="spin")).spin()
except noodle.LimitExceeded as e:
    print("stopped:", e)

vm.rollback("app")
print(app.greet("alan"), "served:", app.served, vm.modules())
