"""PyTorch and JAX: same values as NumPy, analytic gradients checked against finite differences, autodiff
transformations, torch.compile, dtypes, and the memory the torch backward keeps."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import smoothround as sr

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax.config.update("jax_enable_x64", True)
from jax.test_util import check_grads  # noqa: E402

METHODS = ["window", "density", "tanh"]
FUNCTIONS = [sr.round, sr.floor, sr.ceil]
# off the integers and half-integers: soft_round ("tanh") is only C^1 there, so second differences would not match
GRID = np.linspace(-2.95, 2.95, 37) + 0.013


def test_import_smoothround_imports_neither_torch_nor_jax() -> None:
    code = "import sys, smoothround; smoothround.round([0.3], 5.0); print(sorted({'torch', 'jax', 'matplotlib'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize("k", [0.7, 3.0, 6.0, 40.0])
def test_three_backends_agree(fn: object, method: str, k: float) -> None:
    expect = fn(GRID, k, method=method)  # type: ignore[operator]
    t = torch.tensor(GRID, requires_grad=True)
    got_t = fn(t, k, method=method)  # type: ignore[operator]
    assert isinstance(got_t, torch.Tensor) and got_t.dtype == torch.float64
    np.testing.assert_allclose(got_t.detach().numpy(), expect, rtol=0, atol=1e-15)
    got_t.sum().backward()
    np.testing.assert_allclose(
        t.grad.numpy(), sr.derivative(fn, GRID, k, method=method), rtol=1e-14, atol=1e-300
    )
    got_j = fn(jnp.asarray(GRID), k, method=method)  # type: ignore[operator]
    assert isinstance(got_j, jax.Array)
    np.testing.assert_allclose(np.asarray(got_j), expect, rtol=0, atol=1e-15)
    grad_j = jax.vmap(jax.grad(lambda v: fn(v, k, method=method)))(jnp.asarray(GRID))  # type: ignore[operator]
    np.testing.assert_allclose(np.asarray(grad_j), t.grad.numpy(), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [0.7, 3.0, 4.5, 12.0, 300.0])
def test_torch_gradcheck_in_x_and_k(method: str, k: float) -> None:
    x = torch.tensor(GRID, requires_grad=True)
    kk = torch.tensor(k, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: sr.round(a, b, method=method), (x, kk))
    assert torch.autograd.gradcheck(lambda a, b: sr.floor(a, b, method=method), (x, kk))
    assert torch.autograd.gradgradcheck(lambda a, b: sr.round(a, b, method=method), (x, kk))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [0.7, 3.0, 12.0])
def test_jax_check_grads_second_order(method: str, k: float) -> None:
    check_grads(
        lambda a, b: sr.round(a, b, method=method),
        (jnp.asarray(GRID), jnp.asarray(k)),
        order=2,
        modes=["fwd", "rev"],
        rtol=1e-4,
    )  # second differences at k=12 are accurate to ~1e-5


def test_jax_transformations() -> None:
    x = jnp.asarray(GRID)
    jitted = jax.jit(lambda v: sr.round(v, 6.0))(x)
    np.testing.assert_allclose(np.asarray(jitted), sr.round(GRID, 6.0), rtol=0, atol=1e-15)
    # k traced under jit: the array-k path, differentiable in k
    dk = jax.jit(jax.grad(lambda k: sr.round(x, k).sum()))(6.0)
    np.testing.assert_allclose(
        float(dk), sr.derivative(sr.round, GRID, 6.0, wrt="k").sum(), rtol=1e-12, atol=1e-15
    )
    jac = jax.jacfwd(lambda v: sr.round(v, 6.0))(x[:4])
    np.testing.assert_allclose(np.diag(np.asarray(jac)), sr.derivative(sr.round, GRID[:4], 6.0), rtol=1e-14)
    hess = jax.jacfwd(jax.grad(lambda v: sr.round(v, 6.0)))(x[5])
    eps = 1e-6
    fd = (sr.derivative(sr.round, GRID[5] + eps, 6.0) - sr.derivative(sr.round, GRID[5] - eps, 6.0)) / (
        2 * eps
    )
    np.testing.assert_allclose(float(hess), float(fd), rtol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_torch_compile_fullgraph(method: str) -> None:
    x = torch.tensor(GRID, dtype=torch.float32, requires_grad=True)
    k = torch.tensor(7.0, requires_grad=True)
    compiled = torch.compile(lambda a, b: sr.round(a, b, method=method), fullgraph=True)
    out = compiled(x, k)
    out.sum().backward()
    gx, gk = x.grad.clone(), k.grad.clone()
    x.grad = k.grad = None
    eager = sr.round(x, k, method=method)
    eager.sum().backward()
    torch.testing.assert_close(out, eager, rtol=0, atol=3e-7)
    torch.testing.assert_close(gx, x.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gk, k.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype_name", ["float16", "bfloat16"])
def test_half_precision_kept_on_torch_and_jax(method: str, dtype_name: str) -> None:
    x = torch.tensor(GRID, dtype=getattr(torch, dtype_name), requires_grad=True)
    out = sr.round(x, 5.0, method=method)
    assert out.dtype == x.dtype
    out.sum().backward()
    assert x.grad.dtype == x.dtype and torch.all(torch.isfinite(x.grad))
    ref = sr.round(GRID.astype(np.float32), 5.0, method=method)
    tol = 1e-2 if dtype_name == "bfloat16" else 2e-3
    np.testing.assert_allclose(out.detach().float().numpy(), ref, rtol=0, atol=tol * 4)
    xj = jnp.asarray(GRID, dtype=getattr(jnp, dtype_name))
    assert sr.round(xj, 5.0, method=method).dtype == xj.dtype
    assert jax.grad(lambda v: sr.round(v, 5.0, method=method).sum())(xj).dtype == xj.dtype


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k", [1e-4, 1e-2, 1.0, 4.5, 30.0, 1e4, 1e8])
def test_no_nan_or_inf_in_values_or_gradients(method: str, dtype: str, k: float) -> None:
    torch_dtype = getattr(torch, dtype)
    big = torch.finfo(torch_dtype).max
    x = torch.cat(
        [
            torch.linspace(-3, 3, 601, dtype=torch_dtype),
            torch.tensor([0.5, -2.5, 1e-30, 3e7, big, -big], dtype=torch_dtype),
        ]
    ).requires_grad_()
    kk = torch.tensor(k, dtype=torch_dtype, requires_grad=True)
    for fn in FUNCTIONS:
        out = fn(x, kk, method=method)
        assert torch.all(torch.isfinite(out))
        gx, gk = torch.autograd.grad(out.sum(), (x, kk))
        assert torch.all(torch.isfinite(gx)) and torch.isfinite(gk)


def test_infinite_input_gives_infinite_output_and_zero_gradient() -> None:
    x = torch.tensor([np.inf, -np.inf, 0.3], requires_grad=True)
    out = sr.round(x, 5.0)
    assert out[0] == np.inf and out[1] == -np.inf
    out.sum().backward()
    assert x.grad[0] == 0 and x.grad[1] == 0 and x.grad[2] > 0
    g = jax.grad(lambda v: sr.round(v, 5.0).sum())(jnp.asarray([np.inf, -np.inf, 0.3]))
    assert g[0] == 0 and g[1] == 0


def test_straight_through_on_torch_and_jax() -> None:
    x = torch.tensor(GRID, requires_grad=True)
    out = sr.round(x, 4.0, straight_through=True)
    torch.testing.assert_close(out, torch.round(x.detach()))
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), sr.derivative(sr.round, GRID, 4.0), rtol=1e-14)
    xj = jnp.asarray(GRID)
    np.testing.assert_array_equal(np.asarray(sr.floor(xj, 4.0, straight_through=True)), np.floor(GRID))
    g = jax.grad(lambda v: sr.floor(v, 4.0, straight_through=True).sum())(xj)
    np.testing.assert_allclose(np.asarray(g), sr.derivative(sr.floor, GRID, 4.0), rtol=1e-14)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fn", [sr.round, sr.quantize])
def test_torch_backward_saves_only_the_input(method: str, fn: object) -> None:
    """Saved-tensor hooks see exactly one x-sized tensor: x itself (no intermediates are kept)."""
    x = torch.randn(10_000, requires_grad=True)
    saved: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(x, 10.0, method=method)  # type: ignore[operator]
    assert len(saved) == 1 and saved[0].numel() == x.numel() and saved[0].element_size() == 4
    out.sum().backward()
    assert torch.all(torch.isfinite(x.grad))


def test_mixed_libraries_are_rejected() -> None:
    with pytest.raises(TypeError, match=r"`k` is a torch array but `x` is a numpy array"):
        sr.round(np.array([0.3]), torch.tensor(5.0))
    with pytest.raises(TypeError, match=r"`derivative` is for NumPy input"):
        sr.derivative(sr.round, torch.tensor([0.3]), 5.0)


@pytest.mark.parametrize("method", METHODS)
def test_torch_compile_fullgraph_for_inference(method: str) -> None:
    """No input requires grad (inference, no_grad): compiled code must still trace in one graph."""
    x = torch.tensor(GRID, dtype=torch.float32)
    compiled = torch.compile(lambda a: sr.round(a, 9.0, method=method), fullgraph=True)
    torch.testing.assert_close(compiled(x), sr.round(x, 9.0, method=method), rtol=0, atol=3e-7)
    with torch.no_grad():
        y = compiled(x.clone().requires_grad_())
    assert not y.requires_grad
    quantized = torch.compile(lambda a: sr.quantize(a, 9.0, step=0.5, qmin=-2, qmax=2, method=method), fullgraph=True)
    torch.testing.assert_close(quantized(x), sr.quantize(x, 9.0, step=0.5, qmin=-2, qmax=2, method=method))


def test_no_autograd_node_when_no_gradient_is_wanted() -> None:
    x = torch.randn(100)
    assert sr.round(x, 5.0).grad_fn is None
    with torch.no_grad():
        assert sr.round(x.requires_grad_(), 5.0).grad_fn is None
    assert sr.round(x, 5.0).grad_fn is not None


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
                 elements=st.floats(-1e4, 1e4, allow_nan=False)),
    k=st.floats(1e-3, 1e4),
    method=st.sampled_from(METHODS),
    fn=st.sampled_from(FUNCTIONS),
)
def test_backends_agree_on_random_shapes_under_jit(x: np.ndarray, k: float, method: str, fn: object) -> None:
    expect = np.asarray(fn(x, k, method=method))  # type: ignore[operator]
    got_torch = fn(torch.from_numpy(x), k, method=method)  # type: ignore[operator]
    got_jax = jax.jit(lambda v: fn(v, k, method=method))(jnp.asarray(x))  # type: ignore[operator]
    assert got_torch.shape == expect.shape == got_jax.shape
    # a few ulps of the result, plus the conditioning: the slope times a few ulps of the offset (|u| <= 1/2)
    slope = np.abs(sr.derivative(fn, x, k, method=method))  # type: ignore[arg-type]
    allowed = 4e-15 * (np.maximum(np.abs(expect), 1.0) + slope)
    assert np.all(np.abs(got_torch.numpy() - expect) <= allowed)
    assert np.all(np.abs(np.asarray(got_jax) - expect) <= allowed)


@pytest.mark.parametrize(
    "call",
    [
        lambda v: sr.round(v, 7.0),
        lambda v: sr.floor(v, np.array([3.0]), method="density"),
        lambda v: sr.quantize(v, 9.0, step=np.float32(0.25), qmin=-8, qmax=7, method="tanh"),
        lambda v: sr.round(v, 5.0, straight_through=True),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_blockwise_evaluation_equals_small_calls(call, dtype) -> None:
    """Large NumPy arrays are evaluated in blocks (NUMPY_BLOCK): element for element the same numbers as small
    calls, the shape of a broadcast size-1 parameter kept, and +-inf/NaN where they were."""
    from smoothround._backends import NUMPY_BLOCK

    rng = np.random.default_rng(3)
    x = (rng.standard_normal((3, NUMPY_BLOCK + 77)) * 20).astype(dtype)
    x[0, :4] = [np.inf, -np.inf, np.nan, np.finfo(dtype).max]
    got = call(x)
    want = np.concatenate([call(x[:, i : i + 1000]) for i in range(0, x.shape[1], 1000)], axis=-1)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
