"""The PolyBench 4.2 suite as data: each kernel's Noodle port, its reference loops and its NumPy version.

Every kernel lives in two files under `kernels/`: `NAME.nd` (PolyBench's `init_array` and
`kernel_NAME`, the loops as PolyBench writes them) and `NAME.py`, which holds

- `NAME`, `CATEGORY`, `FUNCTION`: PolyBench's name and directory, and the Noodle kernel function;
- `SIZES`: the dataset sizes (MINI, SMALL, MEDIUM, LARGE) as PolyBench's headers define them;
- `arrays(*sizes)`: the arrays, allocated and zeroed (PolyBench's `main` does the same);
- `INIT`, `SCALARS`: the arguments of `init_array` and the scalars it sets (returned, in order);
- `KERNEL`, `OUTPUTS`: the arguments of the kernel and the arrays it computes;
- `init_array`, `kernel`: the same loops in Python (run by CPython in tests, by Numba in the bench);
- `kernel_numpy`: the kernel as a NumPy programmer writes it (vectorised; BLAS where it fits),
  writing its results into the same arrays.

Names in `INIT`/`KERNEL` refer to the sizes, the scalars and the arrays; arguments are passed by
position in that order, to the Noodle functions and to the Python ones alike.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

KERNELS_DIR = Path(__file__).resolve().parent / "kernels"
SIZE_NAMES = ("MINI", "SMALL", "MEDIUM", "LARGE")

#: PolyBench's order: datamining, linear-algebra (blas, kernels, solvers), medley, stencils
ORDER = ("correlation", "covariance",
         "gemm", "gemver", "gesummv", "symm", "syr2k", "syrk", "trmm",
         "k2mm", "k3mm", "atax", "bicg", "doitgen", "mvt",
         "cholesky", "durbin", "gramschmidt", "lu", "ludcmp", "trisolv",
         "deriche", "floyd_warshall", "nussinov",
         "adi", "fdtd_2d", "heat_3d", "jacobi_1d", "jacobi_2d", "seidel_2d")

#: floats agree when max|x - ref| <= RTOL * max(1, max|ref|) array by array; ints exactly.
#: Not bit-exactness: the NumPy versions sum in other orders (BLAS, pairwise sums, LAPACK's
#: Cholesky), and Noodle may reassociate a recognised reduction.
RTOL = 1e-9
#: the solvers' LU and the Gauss-Seidel sweeps amplify rounding differences with size
RTOL_BY_KERNEL = {"lu": 1e-7, "ludcmp": 1e-7, "cholesky": 1e-8, "gramschmidt": 1e-8, "durbin": 1e-8}


@dataclass(frozen=True)
class Kernel:
    """One PolyBench kernel: its files and the Python module describing it."""
    stem: str
    py: ModuleType = field(repr=False)

    @property
    def name(self) -> str:
        return self.py.NAME

    @property
    def category(self) -> str:
        return self.py.CATEGORY

    @property
    def function(self) -> str:
        return self.py.FUNCTION

    @property
    def source(self) -> Path:
        return KERNELS_DIR / f"{self.stem}.nd"

    def sizes(self, dataset: str) -> dict[str, int]:
        return dict(self.py.SIZES[dataset])

    def rtol(self) -> float:
        return RTOL_BY_KERNEL.get(self.stem, RTOL)


def load(stem: str) -> Kernel:
    path = KERNELS_DIR / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(f"polybench_{stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Kernel(stem, module)


def kernels(only: list[str] | None = None) -> list[Kernel]:
    """The suite in PolyBench's order; `only` selects by PolyBench name or file stem."""
    found = [load(stem) for stem in ORDER]
    if only:
        wanted = set(only)
        unknown = wanted - {k.name for k in found} - {k.stem for k in found}
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        found = [k for k in found if k.name in wanted or k.stem in wanted]
    return found


@dataclass
class Instance:
    """One kernel at one size: the sizes, the scalars `init_array` set, and the initialised arrays."""
    kernel: Kernel
    sizes: dict[str, int]
    scalars: dict[str, Any]
    arrays: dict[str, np.ndarray]

    def fresh_arrays(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.arrays.items()}

    def args(self, names: tuple[str, ...], arrays: dict[str, np.ndarray]) -> list[Any]:
        values = {**self.sizes, **self.scalars, **arrays}
        return [values[n] for n in names]

    def kernel_args(self, arrays: dict[str, np.ndarray]) -> list[Any]:
        return self.args(self.kernel.py.KERNEL, arrays)


def blank_arrays(kernel: Kernel, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    return kernel.py.arrays(*sizes.values())


def scalars_of(kernel: Kernel, returned: Any) -> dict[str, Any]:
    """`init_array`'s result (nothing, one scalar or a tuple) as a dict named by SCALARS."""
    names = kernel.py.SCALARS
    if not names:
        return {}
    values = returned if isinstance(returned, tuple) else (returned,)
    if len(values) != len(names):
        raise ValueError(f"{kernel.name}: init_array returned {len(values)} values, expected {len(names)}")
    return dict(zip(names, values))


def instance(kernel: Kernel, dataset: str, init: Callable[..., Any] | None = None) -> Instance:
    """Allocate and initialise one kernel at `dataset` with `init` (default: the Python loops)."""
    sizes = kernel.sizes(dataset)
    arrays = blank_arrays(kernel, sizes)
    holder = Instance(kernel, sizes, {}, arrays)
    run_init = init if init is not None else kernel.py.init_array
    holder.scalars = scalars_of(kernel, run_init(*holder.args(kernel.py.INIT, arrays)))
    return holder


def init_agrees(kernel: Kernel, got: dict[str, np.ndarray], ref: dict[str, np.ndarray], exact: bool) -> bool:
    """Does an initialisation equal the reference's: bit for bit (`exact`), or floats within the
    kernel's tolerance (an init_array may hold a product Noodle runs as BLAS: cholesky's A·Aᵀ)?"""
    for name, want in ref.items():
        have = got[name]
        if exact or np.issubdtype(want.dtype, np.integer):
            if not np.array_equal(have, want):
                return False
        elif have.shape != want.shape or not np.allclose(have, want, rtol=kernel.rtol(), atol=kernel.rtol()):
            return False
    return True


@dataclass(frozen=True)
class Agreement:
    ok: bool
    detail: str  # the worst array and its error, for a report


def compare(kernel: Kernel, got: dict[str, np.ndarray], ref: dict[str, np.ndarray],
            rtol: float | None = None, initial: dict[str, np.ndarray] | None = None) -> Agreement:
    """Do the output arrays agree? Integers exactly; floats within `rtol` of the reference's scale.

    A kernel whose outputs are not determined to rounding (gramschmidt on PolyBench's rank-deficient
    matrix) defines `check(initial, got, ref)` instead, given the arrays before the kernel ran."""
    custom = getattr(kernel.py, "check", None)
    if custom is not None and initial is not None:
        ok, detail = custom(initial, got, ref)
        return Agreement(ok, detail)
    tol = kernel.rtol() if rtol is None else rtol
    worst, where = 0.0, ""
    for name in kernel.py.OUTPUTS:
        a, b = got[name], ref[name]
        if a.shape != b.shape:
            return Agreement(False, f"{name}: shape {a.shape} != {b.shape}")
        if np.issubdtype(b.dtype, np.integer):
            if not np.array_equal(a, b):
                bad = int(np.count_nonzero(a != b))
                return Agreement(False, f"{name}: {bad} integers differ")
            continue
        if not np.all(np.isfinite(a) == np.isfinite(b)):
            return Agreement(False, f"{name}: non-finite values differ")
        finite = np.isfinite(b)
        scale = max(1.0, float(np.max(np.abs(b[finite]), initial=0.0)))
        err = float(np.max(np.abs(a[finite] - b[finite]), initial=0.0)) / scale
        if err > worst:
            worst, where = err, name
        if err > tol:
            return Agreement(False, f"{name}: max error {err:.2e} of scale > {tol:.0e}")
    return Agreement(True, f"max error {worst:.1e} ({where})" if where else "exact")


def checksum(kernel: Kernel, arrays: dict[str, np.ndarray]) -> float:
    """PolyBench dumps the output arrays; the suite reports their sum instead."""
    return float(sum(float(np.sum(arrays[name], dtype=np.float64)) for name in kernel.py.OUTPUTS))
