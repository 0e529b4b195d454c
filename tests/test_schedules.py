"""Schedules of k: values at and between their points, the clamping outside, the array forms of every library
(traced ones included) and the errors."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from smoothround import schedules

STEPS = [-7, 0, 1, 13, 50, 99, 100, 101, 10_000]


def test_linear_values_and_clamping() -> None:
    s = schedules.linear(2.0, 10.0, steps=8)
    assert [s(i) for i in (-3, 0, 2, 4, 8, 9)] == [2.0, 2.0, 4.0, 6.0, 10.0, 10.0]
    assert s(3.5) == 5.5  # a float step is interpolated too
    falling = schedules.linear(10.0, 2.0, steps=4)
    assert [falling(i) for i in range(6)] == [10.0, 8.0, 6.0, 4.0, 2.0, 2.0]


def test_geometric_has_a_constant_ratio_per_step_and_exact_ends() -> None:
    s = schedules.geometric(0.5, 512.0, steps=10)
    values = [s(i) for i in range(11)]
    assert values[0] == 0.5 and values[10] == 512.0
    np.testing.assert_allclose(np.diff(np.log(values)), math.log(1024.0) / 10, rtol=1e-12)
    assert s(-1) == 0.5 and s(11) == 512.0


def test_cosine_is_flat_at_both_ends_and_halfway_in_the_middle() -> None:
    s = schedules.cosine(1.0, 9.0, steps=100)
    assert s(0) == 1.0 and s(100) == 9.0 and s(50) == pytest.approx(5.0, abs=1e-14)
    assert s(25) == pytest.approx(9.0 - 8.0 * (1 + math.cos(math.pi / 4)) / 2, rel=1e-14)
    assert s(1) - s(0) < 0.01 and s(100) - s(99) < 0.01 and s(51) - s(50) > 0.12


def test_constant() -> None:
    s = schedules.constant(7.5)
    assert [s(i) for i in STEPS] == [7.5] * len(STEPS)


def test_piecewise_through_its_points() -> None:
    points = [(0, 1.0), (1000, 10.0), (5000, 100.0)]
    geo = schedules.piecewise(points)
    assert geo(0) == 1.0 and geo(1000) == 10.0 and geo(5000) == 100.0 and geo(-5) == 1.0 and geo(10**6) == 100.0
    assert geo(500) == pytest.approx(math.sqrt(10.0), rel=1e-14)
    assert geo(3000) == pytest.approx(math.sqrt(1000.0), rel=1e-14)
    lin = schedules.piecewise(points, interpolation="linear")
    assert lin(500) == 5.5 and lin(3000) == 55.0
    step = schedules.piecewise(points, interpolation="constant")
    assert [step(i) for i in (-1, 0, 999, 1000, 4999, 5000)] == [1.0, 1.0, 1.0, 10.0, 10.0, 100.0]
    cos = schedules.piecewise(points, interpolation="cosine")
    assert cos(500) == pytest.approx(5.5, rel=1e-14) and cos(3000) == pytest.approx(55.0, rel=1e-14)
    # a piecewise schedule with two points is the plain one
    assert schedules.piecewise([(0, 2.0), (40, 30.0)]) == schedules.geometric(2.0, 30.0, steps=40)
    # a later start holds the first value until then
    late = schedules.piecewise([(100, 1.0), (200, 4.0)], interpolation="linear")
    assert late(50) == 1.0 and late(150) == 2.5


SCHEDULES = [
    schedules.constant(3.0),
    schedules.linear(1.0, 50.0, steps=100),
    schedules.geometric(1.0, 200.0, steps=100),
    schedules.cosine(2.0, 80.0, steps=100),
    schedules.cosine(80.0, 2.0, steps=100),  # falling: near the small end float32 keeps its relative accuracy
    schedules.linear(90.0, 1.0, steps=100),
    schedules.piecewise([(0, 1.0), (30, 10.0), (80, 100.0)]),
    schedules.piecewise([(10, 1.0), (30, 10.0), (80, 100.0)], interpolation="constant"),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.interpolation + str(len(s.points)))
def test_numpy_arrays_give_the_python_values(schedule: schedules.Schedule) -> None:
    want = np.array([schedule(i) for i in STEPS])
    for dtype in (np.int64, np.int32, np.float64):
        got = schedule(np.array(STEPS, dtype=dtype))
        assert isinstance(got, np.ndarray) and got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-14)
    assert isinstance(schedule(np.int64(13)), float) and schedule(np.int64(13)) == schedule(13)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.interpolation + str(len(s.points)))
def test_torch_tensors_give_tensors(schedule: schedules.Schedule) -> None:
    torch = pytest.importorskip("torch")
    want = np.array([schedule(i) for i in STEPS])
    got = schedule(torch.tensor(STEPS))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.get_default_dtype()
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    got64 = schedule(torch.tensor(STEPS, dtype=torch.float64))
    assert got64.dtype == torch.float64
    np.testing.assert_allclose(got64.numpy(), want, rtol=1e-14)
    zero_d = schedule(torch.tensor(13))
    assert zero_d.shape == () and float(zero_d) == pytest.approx(schedule(13), rel=1e-6)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.interpolation + str(len(s.points)))
def test_jax_traced_steps_give_the_python_values(schedule: schedules.Schedule) -> None:
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    want = np.array([schedule(i) for i in STEPS])
    jitted = jax.jit(lambda step: schedule(step))
    got = jnp.stack([jitted(jnp.asarray(i)) for i in STEPS])
    assert isinstance(got, jax.Array)
    np.testing.assert_allclose(np.asarray(got), want, rtol=2e-6)
    # the schedule is hashable: a static argument of jit
    assert float(jax.jit(lambda s, step: s(step), static_argnums=0)(schedule, 13)) == pytest.approx(schedule(13))


def test_torch_compile_evaluates_a_tensor_step_without_recompiling() -> None:
    torch = pytest.importorskip("torch")
    from torch._dynamo.testing import CompileCounter

    counter = CompileCounter()
    s = schedules.geometric(1.0, 100.0, steps=10)
    f = torch.compile(lambda step: s(step), backend=counter, fullgraph=True)
    for i in (0, 3, 7, 12):
        assert float(f(torch.tensor(i))) == pytest.approx(s(i), rel=1e-6)
    assert counter.frame_count == 1


def test_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"`start` must be a positive finite number; got 0.0"):
        schedules.geometric(0.0, 10.0, steps=5)
    with pytest.raises(ValueError, match="`end` must be a positive finite number; got inf"):
        schedules.linear(1.0, math.inf, steps=5)
    with pytest.raises(ValueError, match="`k` must be a positive finite number; got nan"):
        schedules.constant(math.nan)
    with pytest.raises(TypeError, match="`k` must be a positive finite number; got '3' of type str"):
        schedules.constant("3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`steps` must be an integer >= 1; got 0"):
        schedules.cosine(1.0, 2.0, steps=0)
    with pytest.raises(TypeError, match=r"`steps` must be an integer >= 1; got 10\.0 of type float"):
        schedules.linear(1.0, 2.0, steps=10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`interpolation` must be one of 'geometric', 'linear', 'cosine', 'constant'"):
        schedules.piecewise([(0, 1.0)], interpolation="exp")
    with pytest.raises(ValueError, match="strictly increasing steps; got step 5 after 10"):
        schedules.piecewise([(0, 1.0), (10, 2.0), (5, 3.0)])
    with pytest.raises(ValueError, match="at least one"):
        schedules.piecewise([])
    with pytest.raises(ValueError, match=r"`points\[1\]` must have a positive finite k; got -2.0"):
        schedules.piecewise([(0, 1.0), (10, -2.0)])
    with pytest.raises(TypeError, match=r"`points\[0\]` must have an integer step; got 0.5"):
        schedules.piecewise([(0.5, 1.0)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"`points\[0\]` must be a \(step, k\) pair"):
        schedules.piecewise([(0, 1.0, 2.0)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="`step` must be a number or an array; got True"):
        schedules.linear(1.0, 2.0, steps=3)(True)
    with pytest.raises(TypeError, match="`step` must be a number or an array; got '3'"):
        schedules.linear(1.0, 2.0, steps=3)("3")


def test_importing_schedules_and_qat_imports_neither_torch_nor_jax() -> None:
    code = (
        "import sys, smoothround.schedules, smoothround.qat\n"
        "import numpy as np\n"
        "smoothround.schedules.geometric(1.0, 10.0, steps=3)(np.arange(3))\n"
        "smoothround.qat.fake_quantize({'scale': np.array(0.5)}, np.ones(3), k=5.0, bits=3)\n"
        "assert 'torch' not in sys.modules and 'jax' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
