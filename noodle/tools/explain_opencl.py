"""What `noodlec --explain` and `noodlec --emit opencl` say of the OpenCL variants.

For each recognised nest: whether its OpenCL kernel is offered here, or why not — the nest has no
kernel (what it does that kernels do not), there is no device (and why), the device has no
double precision, `noodle tune` did not measure it, or measured it slower than what runs otherwise.
"""
from __future__ import annotations

from noodle.ir import nodes as ir
from noodle.ir.kernels import KernelSpec, specs_of
from noodle.ir.variants import name


def explain_opencl(report: list[tuple[str, int, "KernelSpec | str"]], offered: frozenset[str]) -> list[tuple[int, str]]:
    """(line, text) per recognised nest of the compile's `report` (noodle.ir.kernels), after a
    first line (line 0) naming the device; `offered`: the intents the compile offered."""
    from noodle.backends.opencl import selection
    from noodle.backends.opencl.device import choose

    if not report:
        return []
    choice = choose()
    if choice.info is None:
        out = [(0, f"OpenCL: no device, no OpenCL variant is offered ({choice.reason})")]
    else:
        out = [(0, f"OpenCL device: {choice.info.describe()}")]
    tuned = selection.measured_thresholds(choice.info) if choice.info is not None else None
    defaults = selection.DEFAULTS.get(choice.info.kind, {}) if choice.info is not None else {}
    for function, line, spec in report:
        if isinstance(spec, str):
            out.append((line, f"OpenCL variant of the loop nest in {function}: none — {spec}"))
            continue
        if choice.info is None:
            why = "not offered: no device"
        elif not choice.info.fp64 and any(v.ty == "float" or "<float" in v.ty for v in spec.values):
            why = "not offered: the device has no double precision"
        elif spec.intent in offered:
            n = (tuned if tuned is not None else defaults).get(spec.intent)
            source = "measured by `noodle tune`" if tuned is not None else \
                f"the default for a {choice.info.kind} device: `noodle tune` measures it"
            why = "offered" + (f" from {n} elements ({source})" if n is not None and n < selection.NEVER
                               else " whatever the size (`--backend opencl`)")
        elif tuned is not None and spec.intent in tuned:
            why = "not offered: `noodle tune` measured it slower than what runs otherwise, at every size"
        elif tuned is not None:
            why = "not offered: `noodle tune` has not measured it on this device"
        else:
            why = (f"not offered: the default for a {choice.info.kind} device (`noodle tune` measures whether "
                   "it wins here)")
        exact = "" if spec.exact else ", reassociating (not under --mode safe)"
        out.append((line, f"OpenCL variant of the {spec.intent} nest in {function}: {why}{exact}"))
    return out


def emit_kernels(module: ir.Module, file: str) -> str:
    """Every kernel of the module, rendered for the device chosen here (or for a CPU, without one)."""
    from noodle.backends.opencl import render
    from noodle.backends.opencl.device import choose

    choice = choose()
    kind = choice.info.kind if choice.info is not None else "cpu"
    out = [f"// OpenCL kernels of {file}, rendered for "
           + (choice.info.describe() if choice.info is not None else f"a CPU device (none here: {choice.reason})")]
    for spec in specs_of(module):
        out.append(f"\n// ---- kernel {spec.key}: {name(spec.intent)} at {file}:{spec.line} in {spec.function}"
                   + ("" if spec.exact else " (reassociates float sums)"))
        try:
            kernel = render.render(spec, kind, 64, 0)
        except render.Unrenderable as e:
            out.append(f"// no kernel: {e}")
            continue
        out.append(kernel.source.replace(render.PRELUDE, "// (prelude: checked arithmetic, index checks)\n"))
    if len(out) == 1:
        out.append("// no recognised loop nest has a kernel (see noodlec --explain)")
    return "\n".join(out) + "\n"
