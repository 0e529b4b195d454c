"""Every bad argument of the max/min and elementwise functions raises, naming the argument and what it got."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import smoothround as sr

X = np.array([0.5, 1.0])


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: sr.smooth_abs(X, k=-1.0),
            ValueError,
            r"`k` must be positive \(inf gives the hard function\); got -1.0",
        ),
        (lambda: sr.smooth_abs(X, k=0), ValueError, "`k` must be positive"),
        (lambda: sr.smooth_abs(X, k=float("nan")), ValueError, "`k` must be positive"),
        (lambda: sr.smooth_abs(X, k="10"), TypeError, "`k` must be a real number; got '10'"),
        (lambda: sr.smooth_abs(X, k=[1.0, 2.0]), TypeError, "`k` must be a real number"),  # a list; arrays are accepted
        (lambda: sr.smooth_abs(X, k=True), TypeError, "`k` must be a real number"),
        (lambda: sr.smooth_abs(X, k=1.0, method="huber"), ValueError, "`method` must be one of 'logcosh'"),
        (lambda: sr.smooth_abs(np.array([1 + 2j]), k=1.0), TypeError, "`x` must be real"),
        (lambda: sr.smooth_abs(np.array(["a"]), k=1.0), TypeError, "`x` must hold real numbers"),
        (lambda: sr.smooth_relu(X, k=-2.0), ValueError, "`k` must be positive"),
        (lambda: sr.smooth_sign(X, k=1.0, method="tanh"), ValueError, "`method` must be one of"),
        (lambda: sr.smooth_step(X, k=1.0, method=3), ValueError, "`method` must be one of"),
        (
            lambda: sr.smooth_clamp(X, lo=1.0, hi=0.0, k=1.0),
            ValueError,
            "`lo` and `hi` must be finite with lo < hi",
        ),
        (lambda: sr.smooth_clamp(X, lo=0.0, hi=np.inf, k=1.0), ValueError, "`lo` and `hi` must be finite"),
        (lambda: sr.smooth_clamp(X, lo="0", hi=1.0, k=1.0), TypeError, "`lo` must be a real number"),
        (lambda: sr.smooth_maximum(X, X, k=1.0, method="soft"), ValueError, "`method` must be one of"),
        (lambda: sr.smooth_maximum(X, -X, k=2.0, method="power"), ValueError, "`b` must be nonnegative"),
        (lambda: sr.smooth_minimum(-X, X, k=2.0, method="power"), ValueError, "`a` must be nonnegative"),
        (lambda: sr.smooth_maximum(X, X, k=0.5, method="power"), ValueError, "`k` must be >= 1"),
        (
            lambda: sr.smooth_maximum(torch.ones(2), jnp.ones(2), k=1.0),
            TypeError,
            "pass both from one library",
        ),
        (
            lambda: sr.smooth_maximum(np.ones(2), np.ones(3), k=1.0),
            ValueError,
            r"`a` and `b` must broadcast to one shape; got shapes \(2,\) and \(3,\)",
        ),
        (
            lambda: sr.softmax(np.zeros((0,)), k=1.0),
            ValueError,
            r"`x` must have at least one element along `axis`; got shape \(0,\)",
        ),
        (
            lambda: sr.soft_argmax(np.zeros((2, 0)), k=1.0),
            ValueError,
            r"`x` must have at least one element along `axis`; got shape \(2, 0\)",
        ),
        (
            lambda: sr.smooth_f1(np.array([0.5, 0.5]), ["a", "b"]),
            TypeError,
            "`y` must hold integer labels; got an array of dtype <U1",
        ),
        (
            lambda: sr.smooth_precision(np.array([-0.5, 1.0]), np.array([0, 1])),
            ValueError,
            r"`p` must hold probabilities in \[0, 1\]; got -0.5",
        ),
        (lambda: sr.smooth_max(X, k=1.0, axis=2), ValueError, r"`axis` must be in \[-1, 1\)"),
        (lambda: sr.smooth_max(X, k=1.0, axis=0.5), ValueError, "`axis` must be an integer or None"),
        (lambda: sr.smooth_max(X, k=1.0, axis="0"), TypeError, "`axis` must be an integer or None"),
        (lambda: sr.smooth_max(np.float64(1.0), k=1.0), ValueError, "`axis` must be in"),
        (lambda: sr.smooth_max(np.ones((2, 0)), k=1.0), ValueError, "at least one element along `axis`"),
        (lambda: sr.smooth_max(X, k=1.0, keepdims=1), TypeError, "`keepdims` must be True or False"),
        (lambda: sr.smooth_min(X, k=1.0, method="sqrt"), ValueError, "`method` must be one of 'logsumexp'"),
        (lambda: sr.softmax(X, k=-1.0), ValueError, "`k` must be positive"),
        (lambda: sr.softmax(X, k=1.0, axis=None), TypeError, "`axis` must be an integer; got None"),
        (lambda: sr.soft_argmax(X, k=1.0, axis=-2), ValueError, "`axis` must be in"),
        (lambda: sr.soft_onehot(X, n=0, k=1.0), ValueError, "`n` must be an integer >= 1"),
        (lambda: sr.soft_onehot(X, n=2.0, k=1.0), TypeError, "`n` must be an integer >= 1"),
        (lambda: sr.bounds("smooth_floor", 1.0), ValueError, "`name` must be one of"),
        (lambda: sr.bounds("smooth_abs:huber", 1.0), ValueError, "`name` must be one of"),
        (lambda: sr.bounds(3, 1.0), TypeError, "`name` must be a string"),
        (lambda: sr.bounds("smooth_abs", -1.0), ValueError, "`k` must be positive"),
        (lambda: sr.bounds("smooth_max", 1.0, n=1), ValueError, "`n` must be an integer >= 2"),
        (lambda: sr.bounds("smooth_max", 1.0, n=2.0), TypeError, "`n` must be an integer >= 2"),
        (lambda: sr.bounds("smooth_maximum:power", 0.5), ValueError, "`k` must be >= 1"),
    ],
)
def test_bad_arguments(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_calling_convention() -> None:
    """Data positional-only, k positional or keyword (as in sr.round), every other option keyword-only."""
    np.testing.assert_array_equal(sr.smooth_abs(X, 1.0), sr.smooth_abs(X, k=1.0))
    np.testing.assert_array_equal(sr.round(X, 3.0), sr.round(X, k=3.0))
    with pytest.raises(TypeError):
        sr.smooth_abs(X, 1.0, "erf")  # type: ignore[misc]
    with pytest.raises(TypeError):
        sr.smooth_max(x=X, k=1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        sr.round(x=X, k=1.0)  # type: ignore[call-arg]


def test_mixed_numpy_and_torch_operands() -> None:
    out = sr.smooth_maximum(np.array([0.0, 1.0]), torch.tensor([1.0, 0.0], dtype=torch.float32), k=5.0)
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float64  # NumPy float64 promotes, as torch.result_type would
    out = sr.smooth_maximum(torch.tensor([0.0, 1.0], dtype=torch.float16), 0.25, k=5.0)
    assert out.dtype == torch.float16


def test_bounds_accept_numpy_integers() -> None:
    assert sr.bounds("smooth_max", 2.0, n=np.int64(3)) == sr.bounds("smooth_max", 2.0, n=3)
