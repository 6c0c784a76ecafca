#!/usr/bin/env bash
# The OpenCL benchmark on a machine with a GPU, in one go: a fresh virtual environment with Noodle,
# pyopencl and Numba, the devices pyopencl finds, `noodle tune` (in a cache of its own), and
# bench/opencl.py on the best device (or NOODLE_OPENCL_DEVICE=platform:device) and on PoCL's CPU
# device for comparison.  Run from anywhere:  bash bench/device.sh [--repeat N]
# Results: bench/results/opencl-<host>.{txt,json}.  Needs python3 (>= 3.11) and the GPU's OpenCL
# driver (an ICD under /etc/OpenCL/vendors, e.g. nvidia-opencl-icd); nothing else is installed system-wide.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${NOODLE_BENCH_VENV:-$here/.venv-device}"
out="$here/bench/results"
mkdir -p "$out"
host="$(hostname -s 2>/dev/null || echo host)"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -e "$here[dev,bench]"
export NOODLE_CACHE_DIR="$out/cache-$host"   # this run's measurements, apart from the user's
{
    echo "== devices"
    "$venv/bin/python" - <<'PY'
from noodle.backends.opencl.device import choose, devices
found, why = devices()
for _, info in found:
    print(" ", info.describe())
print("chosen:", choose().info.describe() if choose().info else choose().reason)
PY
    echo "== noodle tune"
    "$venv/bin/noodle" tune --repeat 5
    "$venv/bin/noodle" tune --show
    echo "== bench/opencl.py (chosen device)"
    "$venv/bin/python" "$here/bench/opencl.py" --json "$out/opencl-$host.json" "$@"
    pocl="$("$venv/bin/python" -c 'from noodle.backends.opencl.device import devices
print(next((i.index for _, i in devices()[0] if "Portable" in i.platform), ""))')"
    if [ -n "$pocl" ]; then
        echo "== bench/opencl.py (PoCL on the CPU, $pocl)"
        NOODLE_OPENCL_DEVICE="$pocl" "$venv/bin/python" "$here/bench/opencl.py" --json "$out/opencl-$host-pocl.json" "$@"
    fi
} 2>&1 | tee "$out/opencl-$host.txt"
