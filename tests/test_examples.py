"""The QAT examples run end to end (quick settings) and their hard-quantized 3-bit models classify digits well."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def _run(script: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    found = dict(re.findall(r"^(float|3-bit post-training|hard-quantized) accuracy:\s+([0-9.]+)", result.stdout, re.M))
    assert set(found) == {"float", "3-bit post-training", "hard-quantized"}, result.stdout
    codes = re.search(r"codes used per layer:\s+\[(\d+), (\d+)\] of 8", result.stdout)
    assert codes is not None, result.stdout
    return {**{name: float(value) for name, value in found.items()}, "codes": min(map(int, codes.groups()))}


@pytest.mark.parametrize(
    ("script", "library"), [("qat_torch.py", "torch"), ("qat_jax.py", "optax")], ids=["torch", "jax"]
)
def test_qat_example_reaches_float_accuracy_with_3_bit_weights(script: str, library: str) -> None:
    pytest.importorskip(library)
    pytest.importorskip("sklearn")
    result = _run(script)
    assert result["float"] > 0.93
    assert result["hard-quantized"] > 0.9
    assert result["hard-quantized"] >= result["float"] - 0.02  # QAT recovers the float model's accuracy
    assert result["codes"] >= 6  # the 3-bit grid is really used, not collapsed onto a few levels
