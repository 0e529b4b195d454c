"""The benchmark script runs and prints every row it promises (on a tiny input: no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
SCRIPT = Path(__file__).parent.parent / "benchmarks" / "bench_round.py"


def test_benchmark_prints_every_candidate_with_ratio_and_memory() -> None:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", str(SCRIPT), "--n", "20000", "--repeats", "3"],
        capture_output=True, text=True, check=True, timeout=600,
    ).stdout
    for row in ("torch.sigmoid (baseline)", "textbook window, radius 5", "smoothround window",
                "compiled smoothround window", "vs textbook"):
        assert row in out
    window = next(line for line in out.splitlines() if line.startswith("smoothround window "))
    *_, ratio, saved = window.split()
    assert float(ratio) > 0 and saved == "4"  # only x (float32) is kept for backward
    textbook = next(line for line in out.splitlines() if line.startswith("textbook window"))
    assert textbook.split()[-1] == "132"  # 33 float32 tensors of x's size: what we avoid
