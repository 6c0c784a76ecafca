"""A sandboxed VM with a step limit runs native code, and stops a native loop at its limit (make demo)."""
import noodle

SOURCE = """
fn spin(n: int) -> int {
    var t = 0
    for i in range(n) { t = (t * 31 + i) % 1000003 }
    return t
}
"""
vm = noodle.VM(limits=noodle.Limits(max_steps=1_000_000))
app = vm.load(noodle.Source(SOURCE, name="app"))
print(f"spin(1000) = {app.spin(1000)}; {vm.machine.native_report.get('app', 'VM only')}")
try:
    app.spin(10**12)
except noodle.LimitExceeded as e:
    print(f"spin(10**12) stopped by the step limit: {e}")
