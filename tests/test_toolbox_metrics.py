"""Smooth metrics equal scikit-learn's hard metrics on one-hot probabilities, and are differentiable."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from sklearn import metrics

import smoothround as sr


def _onehot(labels: np.ndarray, c: int) -> np.ndarray:
    return np.eye(c)[labels]


@pytest.mark.parametrize("seed", range(5))
def test_multiclass_equals_sklearn_on_one_hot(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c, n = 4, 30
    y, pred = rng.integers(0, c, n), rng.integers(0, c, n)
    p = _onehot(pred, c)
    labels = list(range(c))
    kw = {"labels": labels, "zero_division": 0}
    assert sr.smooth_accuracy(p, y) == pytest.approx(metrics.accuracy_score(y, pred), abs=1e-15)
    assert sr.smooth_f1(p, y) == pytest.approx(metrics.f1_score(y, pred, average="macro", **kw), abs=1e-15)
    assert sr.smooth_precision(p, y) == pytest.approx(
        metrics.precision_score(y, pred, average="macro", **kw), abs=1e-15
    )
    assert sr.smooth_recall(p, y) == pytest.approx(
        metrics.recall_score(y, pred, average="macro", **kw), abs=1e-15
    )
    for beta in (0.5, 2.0):
        assert sr.smooth_fbeta(p, y, beta=beta) == pytest.approx(
            metrics.fbeta_score(y, pred, beta=beta, average="macro", **kw), abs=1e-15
        )
    np.testing.assert_allclose(
        sr.smooth_f1(p, y, average="none"), metrics.f1_score(y, pred, average=None, **kw), atol=1e-15
    )


@pytest.mark.parametrize("seed", range(5))
def test_binary_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y, pred = rng.integers(0, 2, 25), rng.integers(0, 2, 25)
    p = pred.astype(float)
    assert sr.smooth_accuracy(p, y) == pytest.approx(metrics.accuracy_score(y, pred))
    assert sr.smooth_f1(p, y) == pytest.approx(metrics.f1_score(y, pred, zero_division=0))
    assert sr.smooth_precision(p, y) == pytest.approx(metrics.precision_score(y, pred, zero_division=0))
    assert sr.smooth_recall(p, y) == pytest.approx(metrics.recall_score(y, pred, zero_division=0))
    assert sr.smooth_fbeta(p, y, beta=3.0) == pytest.approx(
        metrics.fbeta_score(y, pred, beta=3.0, zero_division=0)
    )


def test_soft_formulas_and_reductions() -> None:
    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(3), size=(2, 10))  # batch of 2, 10 samples, 3 classes
    y = rng.integers(0, 3, (2, 10))
    onehot = _onehot(y, 3)
    per_sample = np.sum(p * onehot, axis=-1)
    np.testing.assert_allclose(sr.smooth_accuracy(p, y, reduction="none"), per_sample)
    assert sr.smooth_accuracy(p, y, reduction="sum") == pytest.approx(per_sample.sum())
    f1 = 2 * np.sum(p * onehot, axis=1) / np.sum(p + onehot, axis=1)  # (2, 3)
    np.testing.assert_allclose(sr.smooth_f1(p, y, reduction="none", average="none"), f1)
    np.testing.assert_allclose(sr.smooth_f1(p, y, reduction="none"), f1.mean(-1))
    np.testing.assert_allclose(sr.smooth_f1(p, y), f1.mean())
    np.testing.assert_allclose(sr.smooth_f1(p, y, average="none"), f1.mean(0))
    q, t = rng.uniform(size=8), rng.integers(0, 2, 8)
    assert sr.smooth_accuracy(q, t) == pytest.approx(np.mean(q * t + (1 - q) * (1 - t)))
    # zero division: no positives predicted nor present
    assert sr.smooth_f1(np.zeros(3), np.zeros(3), zero_division=1.0) == 1.0


def test_metric_gradients_torch() -> None:
    logits = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 2, 1, 0])
    assert torch.autograd.gradcheck(lambda z: sr.smooth_f1(torch.softmax(z, -1), y), (logits,))
    assert torch.autograd.gradcheck(lambda z: sr.smooth_accuracy(torch.softmax(z, -1), y), (logits,))
    zeros = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    sr.smooth_f1(zeros, torch.zeros(3)).backward()
    assert zeros.grad is not None
    assert torch.isfinite(zeros.grad).all()
    half = torch.rand(4, 5, 3).softmax(-1).to(torch.bfloat16)
    assert sr.smooth_f1(half, torch.randint(0, 3, (4, 5))).dtype == torch.bfloat16


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: sr.smooth_f1(np.ones((3, 2)) / 2, np.array([0, 2, 1])),
            ValueError,
            "`y` must hold integers in",
        ),
        (lambda: sr.smooth_f1(np.ones(3) / 2, np.array([0, 2, 1])), ValueError, "`y` must hold 0 or 1"),
        (lambda: sr.smooth_f1(np.ones(3) / 2, np.array([0, 0.5, 1])), ValueError, "`y` must hold 0 or 1"),
        (lambda: sr.smooth_f1(np.ones((3, 2)), np.zeros(4)), ValueError, "`p` must have the shape of `y`"),
        (
            lambda: sr.smooth_f1(np.ones(3), np.zeros(3), average="micro"),
            ValueError,
            "`average` must be one of",
        ),
        (
            lambda: sr.smooth_accuracy(np.ones(3), np.zeros(3), reduction="max"),
            ValueError,
            "`reduction` must be",
        ),
        (lambda: sr.smooth_fbeta(np.ones(3), np.zeros(3), beta=-1.0), ValueError, "`beta` must be positive"),
        (
            lambda: sr.smooth_fbeta(np.ones(3), np.zeros(3), beta="2"),
            TypeError,
            "`beta` must be a real number",
        ),
        (
            lambda: sr.smooth_f1(np.ones(3), np.zeros(3), zero_division="warn"),
            TypeError,
            "`zero_division` must be",
        ),
        (lambda: sr.smooth_f1(np.array(["a"]), np.zeros(1)), TypeError, "`p` must hold real numbers"),
        (lambda: sr.smooth_f1(torch.ones(3), torch.zeros(3).numpy()[None][0]), None, None),
    ],
)
def test_metric_errors(call, exc, match) -> None:
    if exc is None:
        call()
        return
    with pytest.raises(exc, match=match):
        call()


def test_metrics_check_probabilities() -> None:
    for f in (sr.smooth_precision, sr.smooth_recall, sr.smooth_f1, sr.smooth_accuracy):
        with pytest.raises(ValueError, match=r"`p` must hold probabilities in \[0, 1\]; got -0.5"):
            f(np.array([-0.5, 1.0]), np.array([0, 1]))
        with pytest.raises(ValueError, match="`p` must hold probabilities"):
            f(torch.tensor([[0.2, 1.25]], requires_grad=True), np.array([1]))
    # traced values cannot be read: no check, and no error
    out = jax.jit(lambda p: sr.smooth_f1(p, jnp.asarray([0, 1])))(jnp.asarray([0.25, 0.75]))
    assert float(out) == pytest.approx(sr.smooth_f1(np.array([0.25, 0.75]), np.array([0, 1])))


# ---------------------------------------------------------------------------------------------- from_logits, (N, 1)


@pytest.mark.parametrize("name", ["smooth_accuracy", "smooth_precision", "smooth_recall", "smooth_f1"])
def test_from_logits_equals_the_metric_of_the_probabilities(name: str) -> None:
    from scipy.special import expit, softmax

    metric = getattr(sr, name)
    rng = np.random.default_rng(4)
    logits, y = rng.normal(size=(6, 3)) * 3, np.array([0, 2, 1, 1, 0, 2])
    np.testing.assert_allclose(metric(logits, y, from_logits=True), metric(softmax(logits, axis=-1), y), rtol=1e-14)
    z, yb = rng.normal(size=7) * 3, np.array([0, 1, 1, 0, 1, 0, 0])
    np.testing.assert_allclose(metric(z, yb, from_logits=True), metric(expit(z), yb), rtol=1e-14)


def test_from_logits_gradient_matches_finite_differences() -> None:
    torch = pytest.importorskip("torch")
    z = torch.tensor([[0.5, -1.0, 2.0], [3.0, 0.1, -0.2], [-2.0, 1.0, 0.3]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([2, 0, 1])
    assert torch.autograd.gradcheck(lambda v: sr.smooth_f1(v, y, from_logits=True), (z,))
    zb = torch.tensor([0.5, -30.0, 40.0, 1.0], dtype=torch.float64, requires_grad=True)  # saturated logits too
    assert torch.autograd.gradcheck(lambda v: sr.smooth_f1(v, torch.tensor([1, 0, 1, 0]), from_logits=True), (zb,))


def test_an_n_by_1_prediction_is_refused_with_a_message_that_says_squeeze() -> None:
    p, y = np.full((4, 1), 0.5), np.array([0, 1, 1, 0])
    with pytest.raises(ValueError, match=r"`p` has shape \(4, 1\).*squeeze"):
        sr.smooth_f1(p, y)
    with pytest.raises(ValueError, match=r"`y` has shape \(4, 1\).*squeeze"):
        sr.smooth_accuracy(np.full(4, 0.5), y[:, None])
    with pytest.raises(TypeError, match="`from_logits` must be True or False; got 'yes'"):
        sr.smooth_recall(np.full(4, 0.5), y, from_logits="yes")
