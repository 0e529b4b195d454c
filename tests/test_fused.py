"""The fused CPU kernels for large torch tensors: when they are used, that they agree with the eager path (the
conformance suite's ``torch.fused`` / ``torch.fused_k`` groups hold them to the 50-digit oracle), and that
everything around them (autograd, learnable k, torch.compile, torch.func, the switch, a failing compiler)
behaves as the eager path does."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

torch = pytest.importorskip("torch")

import smoothround as sr  # noqa: E402
from smoothround._backends import _torch_fused as fused  # noqa: E402

N = 5000  # "large" in these tests (MIN_NUMEL is lowered to 4096)


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch: pytest.MonkeyPatch, one_torch_thread: None) -> None:
    monkeypatch.setattr(fused, "MIN_NUMEL", 4096)
    fused._kernels.clear()
    fused._calls.clear()
    fused._broken.clear()
    previous = sr.set_fused_kernels(True)
    yield
    sr.set_fused_kernels(previous)
    fused._kernels.clear()
    fused._calls.clear()
    fused._broken.clear()


def _x(dtype: torch.dtype = torch.float64, n: int = N) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return (torch.randn(n, generator=gen, dtype=torch.float64) * 4).to(dtype)


def _kinds() -> dict[str, int]:
    """How often each kind of kernel (forward/backward) has run."""
    out: dict[str, int] = {}
    for key, kernel in fused._kernels.items():
        out[key[0]] = out.get(key[0], 0) + kernel.calls
    return out


def _value_and_grad(f, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = x.clone().requires_grad_(True)
    y = f(leaf)
    y.backward(torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape))
    return y.detach(), leaf.grad


# each case compiles two kernels (seconds apiece): the conformance suite's torch.fused groups score the methods
# against the oracle; these check the wiring of a few more options against the eager path
CALLS = {
    "round window k=10": (lambda v: sr.round(v, 10.0), torch.float64),
    "floor tanh k=3": (lambda v: sr.floor(v, 3.0, method="tanh"), torch.float32),
    "quantize clamped": (lambda v: sr.quantize(v, 8.0, step=0.25, qmin=-8, qmax=7), torch.float32),
    "quantize straight-through": (lambda v: sr.quantize(v, 8.0, step=0.5, straight_through=True), torch.float64),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_fused_kernel_agrees_with_eager(name: str) -> None:
    f, dtype = CALLS[name]
    x = _x(dtype)
    sr.set_fused_kernels(False)
    want_y, want_g = _value_and_grad(f, x)
    assert not fused._kernels
    sr.set_fused_kernels(True)
    _value_and_grad(f, x)  # first call: eager, counts
    assert not fused._kernels
    got_y, got_g = _value_and_grad(f, x)  # second: compiles and runs fused
    assert _kinds() == {"forward": 1, "backward": 1}
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(got_y, want_y, rtol=8 * eps, atol=8 * eps)
    torch.testing.assert_close(got_g, want_g, rtol=64 * eps, atol=64 * eps)


def test_no_grad_forward_and_shapes_are_kept() -> None:
    x = _x().reshape(50, 100)
    with torch.no_grad():
        sr.round(x, 10.0)
        y = sr.round(x, 10.0)
        sr.round(x.t(), 10.0)
        sr.round(x.t(), 10.0)  # not contiguous: the eager path, whose result keeps the input's strides
    assert _kinds() == {"forward": 1}
    assert y.shape == (50, 100)
    sr.set_fused_kernels(False)
    torch.testing.assert_close(y, sr.round(x, 10.0), rtol=1e-15, atol=1e-15)


def test_annealed_k_shares_one_runtime_kernel() -> None:
    x = _x()
    ks = [10.0, 10.5, 11.0, 14.0, 16.0]  # 4 then 3 pairs: one run-time plan (term counts rounded up to 4)
    assert [sr.evaluation_plan("window", k).terms for k in ks] == [4, 4, 4, 3, 3]
    got = [_value_and_grad(lambda v, k=k: sr.round(v, k), x) for k in ks]
    # calls 1 and 2 eager; the third (a third k) compiles the kernel that takes k at run time; 4 and 5 reuse it
    assert len(fused._kernels) == 2 and _kinds() == {"forward": 3, "backward": 3}
    assert all(key[1].param_names == ("k",) for key in fused._kernels)
    sr.set_fused_kernels(False)
    for k, (y, g) in zip(ks, got, strict=True):
        want_y, want_g = _value_and_grad(lambda v, k=k: sr.round(v, k), x)
        torch.testing.assert_close(y, want_y, rtol=1e-14, atol=1e-14)
        torch.testing.assert_close(g, want_g, rtol=1e-12, atol=1e-12)


def test_learnable_k_gradient() -> None:
    method = "window"
    x = _x()
    weights = torch.linspace(-1, 1, N, dtype=torch.float64)

    def grads() -> tuple[torch.Tensor, torch.Tensor]:
        leaf = x.clone().requires_grad_(True)
        k = torch.tensor(7.0, dtype=torch.float64, requires_grad=True)
        (sr.round(leaf, k, method=method) * weights).sum().backward()
        return leaf.grad, k.grad

    sr.set_fused_kernels(False)
    want_x, want_k = grads()
    sr.set_fused_kernels(True)
    grads()
    got_x, got_k = grads()
    assert _kinds() == {"forward": 1, "backward": 1}
    torch.testing.assert_close(got_x, want_x, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got_k, want_k, rtol=1e-10, atol=1e-10)


def test_double_backward_takes_the_eager_path() -> None:
    x = _x().requires_grad_(True)
    for _ in range(2):
        (g,) = torch.autograd.grad(sr.round(x, 5.0).sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), x)
    assert "backward" not in _kinds()  # the gradient needed a graph: eager backward
    sr.set_fused_kernels(False)
    (g2,) = torch.autograd.grad(sr.round(x, 5.0).sum(), x, create_graph=True)
    (gg2,) = torch.autograd.grad(g2.sum(), x)
    torch.testing.assert_close(gg, gg2, rtol=1e-12, atol=1e-12)


def test_not_used_inside_torch_compile() -> None:
    x = _x().requires_grad_(True)
    compiled = torch.compile(lambda v: sr.round(v, 10.0), fullgraph=True)
    for _ in range(3):
        compiled(x).sum().backward()
    assert not fused._kernels  # the user's compilation fuses our code into theirs


def test_torch_func_grad_agrees() -> None:
    x = _x()
    grad_fn = torch.func.grad(lambda v: sr.round(v, 10.0).sum())
    got = [grad_fn(x) for _ in range(3)]
    sr.set_fused_kernels(False)
    want = grad_fn(x)
    for g in got:
        torch.testing.assert_close(g, want, rtol=1e-12, atol=1e-12)


def test_inference_mode() -> None:
    x = _x()
    with torch.inference_mode():
        ys = [sr.round(x, 10.0) for _ in range(3)]
    assert _kinds() == {"forward": 2}
    torch.testing.assert_close(ys[2], ys[0], rtol=1e-15, atol=1e-15)


def test_small_tensors_never_compile() -> None:
    x = _x(n=100).requires_grad_(True)
    for _ in range(5):
        sr.round(x, 10.0).sum().backward()
    assert not fused._kernels and not fused._calls


def test_a_failing_compiler_warns_once_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(fn, **kwargs):
        def run(*args):
            msg = "no C++ compiler here"
            raise RuntimeError(msg)

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    x = _x()
    sr.set_fused_kernels(False)
    want = sr.round(x, 10.0)
    sr.set_fused_kernels(True)
    sr.round(x, 10.0)
    with pytest.warns(RuntimeWarning, match="could not compile its fused CPU kernel.*no C\\+\\+ compiler"):
        got = sr.round(x, 10.0)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            sr.round(x, 10.0)  # no second warning, no second attempt


def test_switch_and_environment() -> None:
    assert sr.set_fused_kernels(False) is True
    assert sr.set_fused_kernels(True) is False
    with pytest.raises(TypeError, match="`enabled` must be True or False; got 'no'"):
        sr.set_fused_kernels("no")  # type: ignore[arg-type]
    code = "import smoothround._backends as b; print(b.FUSED_KERNELS[0])"
    for value, want in (("0", "False"), ("off", "False"), ("1", "True")):
        out = subprocess.run([sys.executable, "-c", code], env={"SMOOTHROUND_FUSED": value}, capture_output=True,
                             text=True, check=True)
        assert out.stdout.strip() == want


def test_training_with_fused_kernels_matches_eager() -> None:
    """A quantised linear regression trained six steps with an annealed k, fused and eager: the same trajectory
    (from the third step on, one kernel takes k at run time)."""

    def train() -> torch.Tensor:
        gen = torch.Generator().manual_seed(1)
        inputs = torch.randn(64, 80, generator=gen, dtype=torch.float64)
        target = inputs @ torch.randn(80, 70, generator=gen, dtype=torch.float64)
        weight = torch.nn.Parameter(torch.zeros(80, 70, dtype=torch.float64))
        opt = torch.optim.SGD([weight], lr=0.05)
        for step in range(6):
            k = 10.0 + 0.5 * step  # an annealed sharpness (one evaluation plan: 4 pairs)
            loss = ((inputs @ sr.quantize(weight, k, step=0.125) - target) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return weight.detach()

    sr.set_fused_kernels(False)
    want = train()
    sr.set_fused_kernels(True)
    got = train()
    assert _kinds() == {"forward": 4, "backward": 4}  # 5600 elements: steps 3-6 ran fused
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_forward_mode_ad_keeps_its_tangent() -> None:
    from torch.autograd import forward_ad

    x = _x()
    tangents = []
    for _ in range(3):
        with forward_ad.dual_level():
            y = sr.round(forward_ad.make_dual(x, torch.ones_like(x)), 10.0)
            tangents.append(forward_ad.unpack_dual(y).tangent)
    assert not fused._kernels
    assert all(t is not None for t in tangents)
    torch.testing.assert_close(tangents[2], tangents[0], rtol=0, atol=0)


def test_jit_trace_after_a_configuration_is_hot() -> None:
    x = _x()
    with torch.no_grad():
        sr.round(x, 10.0)
        sr.round(x, 10.0)
    assert fused._kernels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated (still used), and warns of its own limits
        traced = torch.jit.trace(lambda v: sr.round(v, 10.0), (x,))
    sr.set_fused_kernels(False)
    torch.testing.assert_close(traced(x), sr.round(x, 10.0), rtol=0, atol=0)


def test_runtime_k_follows_x_device_not_the_default_device() -> None:
    x = _x()
    with torch.no_grad():
        got = []
        with torch.device("meta"):  # the default device: the run-time k must still be made on x's
            for k in (10.0, 10.5, 11.0, 11.5):
                got.append(sr.round(x, k))
    assert _kinds() == {"forward": 2} and not fused._broken
    sr.set_fused_kernels(False)
    torch.testing.assert_close(got[3], sr.round(x, 11.5), rtol=1e-14, atol=1e-14)


def test_channels_last_input_takes_the_eager_path() -> None:
    x = _x(n=4 * 8 * 16 * 16).reshape(4, 8, 16, 16).to(memory_format=torch.channels_last)
    with torch.no_grad():
        ys = [sr.round(x, 10.0) for _ in range(3)]
    assert not fused._kernels
    assert ys[2].is_contiguous(memory_format=torch.channels_last)
