"""Variant thresholds: measured per machine by `noodle tune`, read back by the guards, never trusted blindly."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from noodle.format import thresholds
from noodle.ir import variants
from noodle.tools import tune as tuning
from helpers import HANG_S


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NOODLE_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_the_crossover_is_where_the_variant_wins_from_then_on() -> None:
    assert tuning._crossover([(64, 2.0), (128, 1.1), (256, 0.9), (512, 0.5)]) == 256
    assert tuning._crossover([(64, 0.5), (128, 0.4)]) == 0  # wins everywhere: always
    assert tuning._crossover([(64, 0.5), (128, 1.2), (256, 0.5)]) == 256  # lost once: only from the last win on
    assert tuning._crossover([(64, 0.5), (128, 1.2)]) == variants.NEVER  # loses at the largest size: never


def test_the_blas_threshold_counts_the_multiply_adds_from_which_threads_win() -> None:
    """`blas.parallel` from recorded timings (n x n products, two threads over one, measured by
    `noodle tune` on the development machine): parity while OpenBLAS keeps small products on one
    thread, then the threads win from n = 128 on — the threshold is 128³ multiply-adds."""
    t = next(t for t in tuning.THRESHOLDS if t.key == "blas.parallel")
    recorded = [(16, 1.03), (24, 1.00), (32, 1.01), (48, 1.00), (64, 1.00), (96, 1.00), (128, 0.63), (160, 0.60),
                (192, 0.54), (256, 0.52), (320, 0.47), (384, 0.49), (512, 0.46)]
    assert t.decide(recorded) == 128 ** 3
    # a loaded machine where one large size lost: only from the last win on
    assert t.decide(recorded[:10] + [(384, 1.05), (512, 0.46)]) == 512 ** 3
    assert t.decide([(n, 1.2) for n, _ in recorded]) == variants.NEVER  # threads never win: never
    assert t.decide([(n, 0.9) for n, _ in recorded]) == 0  # always
    # the split of a map counts array accesses: two per element
    split = next(t for t in tuning.THRESHOLDS if t.key == "map.parallel")
    assert split.decide([(1024, 1.5), (2048, 0.8), (4096, 0.7)]) == 4096


def test_the_blas_tuning_kernel_is_one_product_called_from_native_code() -> None:
    """What `noodle tune` times for `blas.parallel` is a recognised product: one dgemm from native
    code (else it would time loops, and the threshold would mean nothing)."""
    from noodle.backends.llvm import native_part
    from noodle.build.driver import compile_source

    t = next(t for t in tuning.THRESHOLDS if t.key == "blas.parallel")
    _, module = compile_source(t.source, "tune.nd", "tune")
    text, entries, _ = native_part(module)  # type: ignore[misc]
    assert [e[0] for e in entries] == ["kernel"] and text.count('call void @"noodle_blas_dgemm"(') == 1
    a, b, c = t.arguments(8)
    assert a.shape == b.shape == c.shape == (8, 8)


def test_measured_thresholds_are_read_for_this_machine_only(cache: Path) -> None:
    (cache / "tuning.json").write_text(json.dumps({
        thresholds.machine_key(): {"map.fused": 123, "no.such.variant": 5, "dot.blas": -4},
        "another machine": {"map.fused": 999},
    }))
    assert thresholds.load() == {"map.fused": 123, "no.such.variant": 5, "dot.blas": -4}
    # what the registry takes of it: unknown keys and nonsense values are dropped
    assert variants.known_thresholds(thresholds.load()) == {"map.fused": 123}


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]", b'{"x": 1}', bytes(range(256))])
def test_a_damaged_tuning_file_means_the_defaults(cache: Path, content: bytes) -> None:
    (cache / "tuning.json").write_bytes(content)
    assert thresholds.load() == {}


def test_forced_restores_the_threshold() -> None:
    before = variants.threshold("map.fused")
    with variants.forced("map.fused", 0):
        assert variants.threshold("map.fused") == 0
    assert variants.threshold("map.fused") == before


def test_noodle_tune_measures_and_keeps_its_results(cache: Path) -> None:
    noodle = Path(sys.executable).parent / "noodle"
    out = subprocess.run([str(noodle), "tune", "--repeat", "1"], capture_output=True, text=True, timeout=HANG_S,
                         env={**os.environ, "NOODLE_CACHE_DIR": str(cache)})
    assert out.returncode == 0, out.stderr
    assert all(key in out.stdout for key in ("map.fused", "dot.blas", "map.parallel", "blas.parallel"))
    kept = json.loads((cache / "tuning.json").read_text())[thresholds.machine_key()]
    assert set(kept) == {"map.fused", "dot.blas", "map.parallel", "blas.parallel"}
    assert all(isinstance(v, int) for v in kept.values())


def test_noodle_tune_says_when_it_cannot_keep_its_results(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    noodle = Path(sys.executable).parent / "noodle"
    out = subprocess.run([str(noodle), "tune", "--repeat", "1"], capture_output=True, text=True, timeout=HANG_S,
                         env={**os.environ, "NOODLE_CACHE_DIR": str(blocked)})
    assert out.returncode == 1 and "measured but not kept" in out.stderr and "Traceback" not in out.stderr


def test_the_entry_points_reader_is_asked_once_and_only_known_sizes_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(variants, "THRESHOLDS", dict(variants.THRESHOLDS))
    calls: list[int] = []

    def read() -> dict[str, object]:
        calls.append(1)
        return {"map.fused": 77, "dot.blas": "many", "no.such.variant": 3}

    variants.measured_by(read)
    try:
        assert calls == []  # installing reads nothing: a program that asks no threshold pays nothing
        assert variants.threshold("map.fused") == 77
        assert variants.threshold("dot.blas") == variants.THRESHOLDS["dot.blas"] != "many"
        assert calls == [1]
    finally:
        variants.measured_by(lambda: {})


def test_the_noodle_command_reads_this_machines_thresholds(cache: Path) -> None:
    """`noodle` and `noodlec` install the reader: a threshold measured on this machine is the one used."""
    (cache / "tuning.json").write_text(json.dumps({thresholds.machine_key(): {"map.fused": 5}}))
    script = ("import sys; from noodle.tools import cli; from noodle.ir import variants\n"
              "cli._use_measured_thresholds(); print(variants.threshold('map.fused'))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=HANG_S,
                         env={**os.environ, "NOODLE_CACHE_DIR": str(cache)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "5"
