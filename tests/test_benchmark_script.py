"""The benchmark script runs its quick mode and prints every row it promises (no timing is asserted: speed
targets live in the script's own output, measured against baselines in the same run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")
SCRIPT = Path(__file__).parent.parent / "benchmarks" / "bench.py"

ROWS = [
    "torch.sigmoid (baseline)", "window, k=10", "tanh, k=10", "density, k=10", "window, k=2 (Fourier)",
    "density, k=2 (Fourier)", "textbook window, radius 5", "window, k=10, n=1000", "window, k=10, n=8",
    "compiled torch.sigmoid (baseline)", "compiled window, k=10", "compiled density, k=10", "compiled tanh, k=10",
    "jax.nn.sigmoid (baseline)", "jax window, k=10", "jax window, k=2 (Fourier)", "jax density, k=10",
    "jax tanh, k=10", "scipy expit float64 (baseline)", "numpy window, k=10, float64",
    "numpy density, k=10, float32", "native softmax (baseline)", "smooth_max logsumexp", "smooth_relu",
    "smooth_abs", 'quantize, saturation="clamp"', "round, k=10 (baseline)", "torch.fake_quantize_per_tensor_affine",
]


def test_quick_mode_prints_every_row_with_ratio_target_and_saved_bytes() -> None:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", str(SCRIPT), "--quick"],
        capture_output=True, text=True, check=True, timeout=900,
    ).stdout
    lines = out.splitlines()
    for row in ROWS:
        assert any(row in line for line in lines), row
    window = next(line for line in lines if line.startswith("torch eager") and "window, k=10 " in line)
    fields = window.split()
    assert fields[-2] in ("yes", "no") and fields[-1] == "4"  # target verdict; only x (float32) is saved
    textbook = next(line for line in lines if "textbook window" in line)
    assert textbook.split()[-1] == "132"  # 33 float32 tensors of x's size: what the library avoids
    memory = [line for line in lines if line.startswith("peak memory")]
    assert len(memory) == 3 and all("nan" not in line for line in memory)  # measured, not NaN


def test_unknown_section_is_a_clear_error() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--only", "gpu"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "--only: unknown section(s) gpu" in result.stderr
