"""smoothround.qat: quantization ranges, LSQ initialisation, smooth training and hard evaluation, gradients to
scale / zero_point / log_k against finite differences, LSQ gradient scaling, and JAX training with jit, grad and
optax."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smoothround import qat, schedules

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------------------------------------- ranges


def test_quant_range() -> None:
    assert qat.quant_range(8) == (-128, 127)
    assert qat.quant_range(8, signed=False) == (0, 255)
    assert qat.quant_range(1) == (-1, 0) and qat.quant_range(1, signed=False) == (0, 1)
    assert qat.quant_range(16) == (-32768, 32767) and qat.quant_range(np.int64(3)) == (-4, 3)


def test_quant_range_errors() -> None:
    with pytest.raises(ValueError, match=r"^`bits` must be an integer in \[1, 16\]; got 0\.$"):
        qat.quant_range(0)
    with pytest.raises(ValueError, match=r"`bits` must be an integer in \[1, 16\]; got 17"):
        qat.quant_range(17)
    with pytest.raises(TypeError, match=r"`bits` must be an integer in \[1, 16\]; got 4\.0 of type float"):
        qat.quant_range(4.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`signed` must be True or False; got 'yes'"):
        qat.quant_range(4, signed="yes")  # type: ignore[arg-type]


def test_range_from_bits_or_from_quant_min_and_quant_max() -> None:
    x = np.array([0.1, 0.2])
    a = qat.fake_quantize({"scale": np.array(0.1)}, x, bits=4, signed=False, training=False)
    b = qat.fake_quantize({"scale": np.array(0.1)}, x, quant_min=0, quant_max=15, training=False)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"give either `bits` .* or both `quant_min` and `quant_max`, not both"):
        qat.init_params(x, bits=4, quant_min=0)
    with pytest.raises(TypeError, match="the quantization range is missing"):
        qat.init_params(x, quant_max=7)
    with pytest.raises(ValueError, match="`quant_min` must be < `quant_max`; got quant_min=3, quant_max=3"):
        qat.init_params(x, quant_min=3, quant_max=3)
    with pytest.raises(TypeError, match=r"`quant_min` must be an integer; got 0\.5"):
        qat.init_params(x, quant_min=0.5, quant_max=3)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- init


def test_lsq_initialisation_per_tensor_and_per_channel() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 3, 4))
    per_tensor = qat.init_params(w, bits=4)["scale"]
    assert per_tensor.shape == ()
    np.testing.assert_allclose(per_tensor, 2 * np.abs(w).mean() / math.sqrt(7), rtol=1e-14)
    for axis in (0, 1, -1):
        scale = qat.init_params(w, bits=3, axis=axis)["scale"]
        want = 2 * np.abs(w).mean(axis=tuple(i for i in range(3) if i != axis % 3), keepdims=True) / math.sqrt(3)
        assert scale.shape == want.shape
        np.testing.assert_allclose(scale, want, rtol=1e-14)
    unsigned = qat.init_params(np.abs(w), bits=8, signed=False)["scale"]
    np.testing.assert_allclose(unsigned, 2 * np.abs(w).mean() / math.sqrt(255), rtol=1e-14)
    # a 1-bit signed range has no positive code: Q_P is |quant_min|
    np.testing.assert_allclose(qat.init_params(w, bits=1)["scale"], 2 * np.abs(w).mean(), rtol=1e-14)
    # a vector along its only axis: one scale per element
    v = np.array([0.5, -2.0, 0.0])
    np.testing.assert_allclose(qat.init_params(v, bits=3, axis=0)["scale"], [1 / math.sqrt(3), 4 / math.sqrt(3), qat.MIN_SCALE])


def test_init_params_optional_entries_and_types() -> None:
    x32 = torch.randn(4, 6)
    params = qat.init_params(x32, bits=3, axis=0, zero_point=True, k=8.0, learn_k=True)
    assert set(params) == {"scale", "zero_point", "log_k"}
    assert params["scale"].dtype == torch.float32 and params["scale"].shape == (4, 1)
    assert torch.equal(params["zero_point"], torch.zeros(4, 1))
    assert params["log_k"].shape == () and float(params["log_k"]) == pytest.approx(math.log(8.0))
    assert not any(p.requires_grad for p in params.values())
    # no gradient from the batch it was taken from
    x = torch.randn(10, requires_grad=True)
    assert not qat.init_params(x, bits=4)["scale"].requires_grad
    # integers are promoted to the default float; an all-zero batch gets torch.ao's smallest scale
    assert qat.init_params(np.zeros(5, dtype=np.int32), bits=4)["scale"] == np.float64(qat.MIN_SCALE)
    assert qat.init_params(torch.tensor([1, -3]), bits=2)["scale"].dtype == torch.get_default_dtype()
    # the same numbers in every library
    jnp = pytest.importorskip("jax.numpy")
    w = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    for lib in (torch.from_numpy(w), jnp.asarray(w)):
        got = qat.init_params(lib, bits=4, axis=1)["scale"]
        np.testing.assert_allclose(np.asarray(got), qat.init_params(w, bits=4, axis=1)["scale"], rtol=1e-6)


def test_init_params_errors() -> None:
    x = np.ones((2, 3))
    with pytest.raises(TypeError, match=r"`k` .* is required with learn_k=True"):
        qat.init_params(x, bits=4, learn_k=True)
    with pytest.raises(ValueError, match="`k` is the initial value of a learned sharpness and needs learn_k=True"):
        qat.init_params(x, bits=4, k=5.0)
    with pytest.raises(ValueError, match=r"`k` must be a positive finite number; got -1\.0"):
        qat.init_params(x, bits=4, k=-1.0, learn_k=True)
    with pytest.raises(ValueError, match=r"`axis` must be in \[-2, 1\] for `x` with 2 dimensions; got 2"):
        qat.init_params(x, bits=4, axis=2)
    with pytest.raises(TypeError, match="`axis` must be an integer; got 'rows'"):
        qat.init_params(x, bits=4, axis="rows")
    with pytest.raises(TypeError, match="`zero_point` must be True or False; got 1"):
        qat.init_params(x, bits=4, zero_point=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`x` must be a real array or tensor"):
        qat.init_params(np.array(["a"]), bits=4)


# ---------------------------------------------------------------------------------------------- train / eval


def _hard_reference(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, qmin: int, qmax: int) -> np.ndarray:
    return (np.clip(np.round(x / scale + zero_point), qmin, qmax) - zero_point) * scale


def test_eval_is_hard_quantization_onto_the_integer_grid() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 40)) * 2
    params = {"scale": rng.uniform(0.1, 0.5, size=(6, 1)), "zero_point": rng.uniform(-2, 2, size=(6, 1))}
    hard = qat.fake_quantize(params, x, bits=3, training=False)
    np.testing.assert_array_equal(hard, _hard_reference(x, params["scale"], params["zero_point"], -4, 3))
    codes = qat.quantize_codes(params, x, bits=3)
    assert codes.dtype == np.int32 and codes.min() == -4 and codes.max() == 3
    np.testing.assert_array_equal(hard, (codes - params["zero_point"]) * params["scale"])
    # the same in torch and JAX
    jnp = pytest.importorskip("jax.numpy")
    for to in (torch.from_numpy, jnp.asarray):
        got = qat.fake_quantize({n: to(v) for n, v in params.items()}, to(x), bits=3, training=False)
        np.testing.assert_allclose(np.asarray(got), hard, rtol=1e-6, atol=1e-6)


def test_the_result_has_the_dtype_of_x_in_both_modes() -> None:
    for x, scale in (
        (torch.randn(2, 5, dtype=torch.bfloat16), torch.full((2, 1), 0.3)),
        (torch.randn(2, 5), torch.full((2, 1), 0.3, dtype=torch.float64)),
        (np.ones((2, 5), dtype=np.float32), np.full((2, 1), 0.3)),
    ):
        for training in (True, False):
            assert qat.fake_quantize({"scale": scale}, x, k=10.0, bits=3, training=training).dtype == x.dtype


def test_training_is_smooth_and_tends_to_the_hard_quantizer() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, size=2000)
    params = {"scale": np.array(0.4), "zero_point": np.array(0.3)}
    hard = qat.fake_quantize(params, x, bits=3, training=False)
    codes = x / 0.4 + 0.3
    far_from_ties = np.abs(codes - np.floor(codes) - 0.5) > 0.1
    errors = []
    for k in (5.0, 20.0, 80.0):
        smooth = qat.fake_quantize(params, x, k=k, bits=3)
        errors.append(np.max(np.abs(smooth - hard)[far_from_ties]))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.4 * 1e-3
    # at small k the clamped window quantizer is nearly the clamp itself
    soft = qat.fake_quantize(params, x, k=0.3, bits=3)
    clamp = (np.clip(codes, -4, 3) - 0.3) * 0.4
    np.testing.assert_allclose(soft, clamp, atol=1e-6)
    # the classic straight-through estimator has the hard forward while training
    ste = qat.fake_quantize(params, x, k=5.0, bits=3, straight_through="identity")
    np.testing.assert_allclose(ste, hard, rtol=1e-15, atol=1e-15)


def test_fake_quantize_errors() -> None:
    x = np.ones(3)
    p = {"scale": np.array(0.5)}
    with pytest.raises(TypeError, match=r"`k` .* is required with training=True unless `params` has 'log_k'"):
        qat.fake_quantize(p, x, bits=3)
    with pytest.raises(ValueError, match="`k` must not be given when `params` has 'log_k'"):
        qat.fake_quantize({**p, "log_k": np.array(1.0)}, x, k=5.0, bits=3)
    with pytest.raises(ValueError, match=r"`params` must have the key 'scale' and only the keys .*; got keys \['scael'\]"):
        qat.fake_quantize({"scael": np.array(0.5)}, x, k=5.0, bits=3)
    with pytest.raises(TypeError, match="`params` must be a dict of arrays"):
        qat.fake_quantize([0.5], x, k=5.0, bits=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`grad_scale` must be None, 'lsq' or a positive number; got 'LSQ'"):
        qat.fake_quantize(p, x, k=5.0, bits=3, grad_scale="LSQ")
    with pytest.raises(ValueError, match="`grad_scale` must be None, 'lsq' or a positive number; got -1"):
        qat.fake_quantize(p, x, k=5.0, bits=3, grad_scale=-1)
    with pytest.raises(ValueError, match="`method` must be one of"):
        qat.fake_quantize(p, x, bits=3, training=False, method="round")
    with pytest.raises(TypeError, match="`training` must be True or False; got 'eval'"):
        qat.fake_quantize(p, x, k=5.0, bits=3, training="eval")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`k` must be positive"):
        qat.fake_quantize(p, x, k=0.0, bits=3)


# ---------------------------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("saturation", ["clamp", "smooth"])
@pytest.mark.parametrize("method", ["window", "density"])
def test_gradients_to_x_scale_zero_point_and_log_k_match_finite_differences(method: str, saturation: str) -> None:
    gen = torch.Generator().manual_seed(4)
    # codes inside the range and beyond it, away from the clamp's kinks at quant_min and quant_max
    x = (torch.rand(3, 7, generator=gen, dtype=torch.float64) * 3.2 - 1.7).requires_grad_()
    scale = torch.tensor([[0.3], [0.45], [0.25]], dtype=torch.float64, requires_grad=True)
    zero_point = torch.tensor([[0.2], [-0.35], [0.1]], dtype=torch.float64, requires_grad=True)
    log_k = torch.tensor(math.log(4.0), dtype=torch.float64, requires_grad=True)

    def f(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, log_k: torch.Tensor) -> torch.Tensor:
        params = {"scale": scale, "zero_point": zero_point, "log_k": log_k}
        return qat.fake_quantize(params, x, bits=3, method=method, saturation=saturation)

    codes = x.detach() / scale.detach() + zero_point.detach()
    assert (codes < -4).any() and (codes > 3).any()  # the saturated region is exercised
    assert ((codes + 4).abs() > 0.02).all() and ((codes - 3).abs() > 0.02).all()
    assert torch.autograd.gradcheck(f, (x, scale, zero_point, log_k), eps=1e-6, atol=1e-7, rtol=1e-6)


def test_lsq_gradient_scaling_changes_gradients_not_values() -> None:
    x = torch.randn(8, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    base = qat.init_params(x, bits=4, axis=0, zero_point=True)

    def run(grad_scale: object) -> tuple[torch.Tensor, dict]:
        params = {n: v.clone().requires_grad_() for n, v in base.items()}
        out = qat.fake_quantize(params, x, k=6.0, bits=4, grad_scale=grad_scale)
        (out * torch.linspace(-1, 1, 10, dtype=torch.float64)).sum().backward()
        return out, {n: p.grad for n, p in params.items()}

    plain, grads = run(None)
    scaled, scaled_grads = run("lsq")
    assert torch.equal(plain, scaled)  # bit for bit
    g = 1 / math.sqrt(10 * 7)
    assert qat.lsq_grad_scale((8, 10), (8, 1), -8, 7) == pytest.approx(g, rel=1e-15)
    for name in ("scale", "zero_point"):
        torch.testing.assert_close(scaled_grads[name], g * grads[name], rtol=1e-13, atol=0)
        assert grads[name].abs().max() > 0
    _, fixed = run(0.25)
    torch.testing.assert_close(fixed["scale"], 0.25 * grads["scale"], rtol=1e-13, atol=0)


# ---------------------------------------------------------------------------------------------- JAX


jax = pytest.importorskip("jax")
jnp = jax.numpy


def test_jax_jit_grad_over_the_params_pytree_matches_torch() -> None:
    rng = np.random.default_rng(6)
    w, x = rng.normal(size=(4, 6)), rng.normal(size=(16, 6))
    schedule = schedules.geometric(2.0, 50.0, steps=20)

    def loss_fn(lib, params, w, x, step):  # the same code for both libraries
        k = schedule(step)
        wq = qat.fake_quantize(params["w"], w, k=k, bits=3, grad_scale="lsq")
        xq = qat.fake_quantize(params["x"], x, quant_min=0, quant_max=15)
        return lib.mean((xq @ wq.T - 0.5) ** 2)

    with jax.enable_x64(True):
        params = {
            "w": qat.init_params(jnp.asarray(w), bits=3, axis=0, zero_point=True),
            "x": qat.init_params(jnp.asarray(x), quant_min=0, quant_max=15, zero_point=True, k=5.0, learn_k=True),
        }
        grad_fn = jax.jit(jax.grad(lambda p, w, x, s: loss_fn(jnp, p, w, x, s)))
        jax_grads = grad_fn(params, jnp.asarray(w), jnp.asarray(x), jnp.asarray(7))
        assert jax_grads["w"]["scale"].dtype == jnp.float64
    torch_params = jax.tree.map(lambda a: torch.tensor(np.asarray(a)).requires_grad_(), params)
    step = torch.tensor(7, dtype=torch.float64)  # an integer tensor would give a k in the default float32
    loss_fn(torch, torch_params, torch.tensor(w), torch.tensor(x), step).backward()
    torch_grads = jax.tree.map(lambda t: t.grad.numpy(), torch_params, is_leaf=lambda t: isinstance(t, torch.Tensor))
    flat_jax, flat_torch = jax.tree.leaves(jax_grads), jax.tree.leaves(torch_grads)
    assert len(flat_jax) == 5 and all(np.abs(g).max() > 0 for g in flat_torch)
    for a, b in zip(flat_jax, flat_torch, strict=True):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-10, atol=1e-14)


def test_jax_optax_training_reduces_the_loss_and_the_hard_error() -> None:
    optax = pytest.importorskip("optax")
    rng = np.random.default_rng(7)
    # fit 3-bit weights (and their scales) to reproduce a linear map on data
    true_w = rng.normal(size=(8, 5)).astype(np.float32)
    x = jnp.asarray(rng.normal(size=(256, 5)).astype(np.float32))
    y = x @ jnp.asarray(true_w).T
    weights = jnp.asarray(true_w + 0.3 * rng.normal(size=true_w.shape).astype(np.float32))
    params = {"w": weights, "q": qat.init_params(weights, bits=3, axis=0)}
    schedule = schedules.geometric(2.0, 60.0, steps=150)

    def loss(params, step, training=True):
        wq = qat.fake_quantize(params["q"], params["w"], k=schedule(step), bits=3, training=training, grad_scale="lsq")
        return jnp.mean((x @ wq.T - y) ** 2)

    optimizer = optax.adam(1e-2)
    state = optimizer.init(params)
    traces = []

    @jax.jit
    def update(params, state, step):
        traces.append(step)  # runs only while tracing
        value, grads = jax.value_and_grad(loss)(params, step)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    hard_before = float(loss(params, 0, training=False))
    losses = []
    for step in range(200):
        params, state, value = update(params, state, jnp.asarray(step))
        losses.append(float(value))
    hard_after = float(loss(params, 0, training=False))
    assert losses[-1] < 0.5 * losses[0]
    assert len(traces) == 1  # k changes at every step inside one compiled update
    assert hard_after < 0.5 * hard_before
    assert params["q"]["scale"].dtype == jnp.float32 and not np.allclose(params["q"]["scale"], qat.init_params(weights, bits=3, axis=0)["scale"])
