"""Integer least squares (the closest vector problem): min ||A x - b||^2 over integer x.

The solvers, all in NumPy:

* :func:`lll_reduce`: LLL reduction in QR form (size reduction on R, a Givens rotation at each swap), returning
  ``A T = Q R`` with ``T`` unimodular;
* :func:`babai`: Babai's nearest plane on an upper-triangular ``R`` (back substitution with rounding);
* :func:`sphere_decode`: Schnorr-Euchner enumeration, the exact optimum (its first leaf is Babai's point);
* :func:`local_search` and :func:`k_best`: multi-candidate baselines that spend a budget of objective
  evaluations;
* :func:`continuation`: the smooth method, min ||B r_k(z) - b||^2 with ``k`` annealed geometrically, by Adam on
  ``z``, batched over instances, then hard rounding (the final point) and the best rounded point seen;
* :func:`milp_l1`: ``scipy.optimize.milp`` on the L1 variant min ||A x - b||_1.

:func:`solve_cell` draws the instances of one cell (``n``, conditioning) and runs every method on them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from smoothround import schedules
from smoothround.rounding import derivative
from smoothround.rounding import round as smooth_round

CONDITIONINGS = ("well", "ill")
#: the condition number of the ill-conditioned bases (singular values log-spaced over this ratio)
ILL_CONDITION = 1e3


# ---------------------------------------------------------------------------------------------- instances


def make_instance(n: int, conditioning: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A basis ``A`` (n x n, |det A| = 1) and a target ``b = A c`` with ``c`` uniform on [0, 10)^n.

    ``"well"``: iid Gaussian entries (condition number of order n); ``"ill"``: ``U diag(s) V^T`` with random
    orthogonal ``U``, ``V`` and ``s`` log-spaced over a ratio of :data:`ILL_CONDITION`. Scaling to unit
    determinant makes the lattices' densities equal, so distances are comparable across cells.
    """
    if conditioning == "well":
        a = rng.standard_normal((n, n))
    elif conditioning == "ill":
        u, _ = np.linalg.qr(rng.standard_normal((n, n)))
        v, _ = np.linalg.qr(rng.standard_normal((n, n)))
        s = np.logspace(0.0, -math.log10(ILL_CONDITION), n)
        a = (u * s) @ v.T
    else:
        msg = f"`conditioning` must be one of {CONDITIONINGS}; got {conditioning!r}."
        raise ValueError(msg)
    _, logdet = np.linalg.slogdet(a)
    a = a / math.exp(logdet / n)
    c = rng.uniform(0.0, 10.0, n)
    return a, a @ c


def objective(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> float:
    """||A x - b||^2."""
    r = a @ x - b
    return float(r @ r)


# ---------------------------------------------------------------------------------------------- LLL, Babai


def lll_reduce(a: np.ndarray, delta: float = 0.99) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LLL-reduce the columns of ``a``: return ``(Q, R, T)`` with ``a @ T = Q @ R``, ``T`` unimodular (int64),
    ``R`` upper triangular and its columns size-reduced with the Lovasz condition
    ``delta R[k-1,k-1]^2 <= R[k-1,k]^2 + R[k,k]^2`` (Wubben et al.'s QR form of LLL).

    >>> import numpy as np
    >>> q, r, t = lll_reduce(np.array([[1.0, 0.0], [0.0, 1.0]]) @ np.array([[1.0, 7.0], [0.0, 1.0]]))
    >>> t.tolist(), bool(np.allclose(q @ r, np.array([[1.0, 7.0], [0.0, 1.0]]) @ t))
    ([[1, -7], [0, 1]], True)
    """
    q, r = np.linalg.qr(a)
    n = a.shape[1]
    t = np.eye(n, dtype=np.int64)
    k = 1
    while k < n:
        for j in range(k - 1, -1, -1):  # size-reduce column k against every earlier column
            mu = round(r[j, k] / r[j, j])
            if mu:
                r[: j + 1, k] -= mu * r[: j + 1, j]
                t[:, k] -= mu * t[:, j]
        if delta * r[k - 1, k - 1] ** 2 > r[k - 1, k] ** 2 + r[k, k] ** 2:
            r[:, [k - 1, k]] = r[:, [k, k - 1]]
            t[:, [k - 1, k]] = t[:, [k, k - 1]]
            # a Givens rotation of rows k-1, k makes R upper triangular again (and Q follows)
            x, y = r[k - 1, k - 1], r[k, k - 1]
            norm = math.hypot(x, y)
            c, s = x / norm, y / norm
            g = np.array([[c, s], [-s, c]])
            r[[k - 1, k], k - 1 :] = g @ r[[k - 1, k], k - 1 :]
            r[k, k - 1] = 0.0
            q[:, [k - 1, k]] = q[:, [k - 1, k]] @ g.T
            k = max(k - 1, 1)
        else:
            k += 1
    return q, r, t


def babai(r: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Babai's nearest plane: the integer ``z`` from back substitution of ``R z = y`` with rounding at each level.

    >>> import numpy as np
    >>> babai(np.array([[1.0, 0.5], [0.0, 1.0]]), np.array([0.9, 2.2])).tolist()
    [0.0, 2.0]
    """
    n = r.shape[0]
    z = np.zeros(n)
    for i in range(n - 1, -1, -1):
        z[i] = np.round((y[i] - r[i, i + 1 :] @ z[i + 1 :]) / r[i, i])
    return z + 0.0  # no negative zeros


def sphere_decode(r: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, int]:
    """The exact minimiser of ``||y - R z||^2`` over integer ``z`` (``R`` upper triangular, nonsingular):
    Schnorr-Euchner depth-first enumeration, children in zig-zag order of distance, the radius shrinking to
    every better leaf found (the first leaf is Babai's point). Returns ``(z, distance, nodes visited)``.

    >>> import numpy as np
    >>> z, d, nodes = sphere_decode(np.array([[1.0, 0.9], [0.0, 0.2]]), np.array([0.5, 0.15]))
    >>> z.tolist(), round(d, 6)                     # Babai's point (0, 1) has distance 0.1625
    ([-1.0, 2.0], 0.1525)
    """
    n = r.shape[0]
    rows = r.tolist()
    diag = [rows[i][i] for i in range(n)]
    yl = y.tolist()
    z = [0.0] * n
    centre = [0.0] * n
    step = [0.0] * n
    partial = [0.0] * (n + 1)  # partial[i]: the distance of levels i..n-1
    best: list[float] | None = None
    best_d = math.inf
    nodes = 0

    def descend(i: int) -> None:
        row = rows[i]
        acc = yl[i]
        for j in range(i + 1, n):
            acc -= row[j] * z[j]
        centre[i] = acc / diag[i]
        z[i] = float(round(centre[i]))
        step[i] = 1.0 if centre[i] >= z[i] else -1.0

    i = n - 1
    descend(i)
    while True:
        nodes += 1
        e = (centre[i] - z[i]) * diag[i]
        d = partial[i + 1] + e * e
        if d < best_d:
            if i == 0:
                best, best_d = list(z), d
                z[0] += step[0]
                step[0] = -step[0] - (1.0 if step[0] > 0 else -1.0)
            else:
                partial[i] = d
                i -= 1
                descend(i)
        else:
            if i == n - 1:
                break
            i += 1
            z[i] += step[i]
            step[i] = -step[i] - (1.0 if step[i] > 0 else -1.0)
    assert best is not None
    return np.array(best), best_d, nodes


# ---------------------------------------------------------------------------------------------- budgets


def local_search(b_red: np.ndarray, b: np.ndarray, z0: np.ndarray, budget: int) -> tuple[np.ndarray, int]:
    """Greedy best-improvement descent over the 2n neighbours ``z +- e_i`` from ``z0`` in the reduced basis,
    spending at most ``budget`` objective evaluations; returns the best point and the evaluations used."""
    n = z0.size
    z = z0.copy()
    best = objective(b_red, b, z)
    used = 1
    while used < budget:
        candidates = []
        for i in range(n):
            for s in (1.0, -1.0):
                if used >= budget:
                    break
                w = z.copy()
                w[i] += s
                candidates.append((objective(b_red, b, w), i, s))
                used += 1
        value, i, s = min(candidates)
        if value >= best:
            break
        z[i] += s
        best = value
    return z, used


def k_best(r: np.ndarray, y: np.ndarray, width: int) -> np.ndarray:
    """K-best (breadth-first sphere decoding): from the last level down, expand each of the ``width`` best
    partial candidates into its 3 nearest integers and keep the ``width`` with the smallest partial distance."""
    n = r.shape[0]
    paths = np.zeros((1, 0))
    dist = np.zeros(1)
    for i in range(n - 1, -1, -1):
        centre = (y[i] - paths @ r[i, i + 1 :]) / r[i, i]
        nearest = np.round(centre)
        away = np.where(centre >= nearest, 1.0, -1.0)
        children = np.stack([nearest, nearest + away, nearest - away], axis=1)  # (paths, 3)
        child_dist = dist[:, None] + ((centre[:, None] - children) * r[i, i]) ** 2
        flat = np.argsort(child_dist, axis=None, kind="stable")[:width]
        parent, which = np.unravel_index(flat, child_dist.shape)
        paths = np.concatenate([children[parent, which][:, None], paths[parent]], axis=1)
        dist = child_dist[parent, which]
    return paths[0]


# ---------------------------------------------------------------------------------------------- continuation


@dataclass(frozen=True)
class Continuation:
    """The smooth method's settings: ``k`` geometric from ``k_start`` to ``k_end`` over ``steps`` Adam steps of
    rate ``lr`` on ``z`` (code units), from the continuous least-squares solution."""

    steps: int = 400
    k_start: float = 1.0
    k_end: float = 100.0
    lr: float = 0.1
    method: str = "window"


def continuation(bases: np.ndarray, targets: np.ndarray, settings: Continuation) -> dict[str, np.ndarray]:
    """Minimise ``||B r_k(z) - b||^2`` for a batch of instances (``bases`` (m, n, n), ``targets`` (m, n)).

    Returns ``final`` (round of the last iterate), ``best`` (the best rounded iterate, checked at every step
    where it changes) and ``evaluations`` (how many distinct rounded points were checked, per instance).
    """
    z = np.linalg.solve(bases, targets[..., None])[..., 0]
    schedule = schedules.geometric(settings.k_start, settings.k_end, steps=settings.steps - 1)
    m1, m2 = np.zeros_like(z), np.zeros_like(z)
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def values(points: np.ndarray) -> np.ndarray:
        res = np.einsum("mij,mj->mi", bases, points) - targets
        return np.einsum("mi,mi->m", res, res)

    best = np.round(z)
    best_value = values(best)
    last = best.copy()
    evaluations = np.ones(z.shape[0], dtype=np.int64)
    for step in range(settings.steps):
        k = schedule(step)
        rz = smooth_round(z, k, method=settings.method)
        slope = derivative(smooth_round, z, k, method=settings.method)
        res = np.einsum("mij,mj->mi", bases, rz) - targets
        grad = 2.0 * slope * np.einsum("mji,mj->mi", bases, res)
        m1 = beta1 * m1 + (1 - beta1) * grad
        m2 = beta2 * m2 + (1 - beta2) * grad * grad
        hat1 = m1 / (1 - beta1 ** (step + 1))
        hat2 = m2 / (1 - beta2 ** (step + 1))
        z = z - settings.lr * hat1 / (np.sqrt(hat2) + eps)
        point = np.round(z)
        changed = np.any(point != last, axis=1)
        if np.any(changed):
            value = values(point)
            better = changed & (value < best_value)
            best = np.where(better[:, None], point, best)
            best_value = np.where(better, value, best_value)
            evaluations += changed
            last = point
    return {"final": np.round(z), "best": best, "evaluations": evaluations}


# ---------------------------------------------------------------------------------------------- L1 by MILP


def milp_l1(a: np.ndarray, b: np.ndarray, time_limit: float = 10.0) -> tuple[np.ndarray, bool]:
    """The minimiser of ||A x - b||_1 over integer x by ``scipy.optimize.milp`` (HiGHS): variables (x, t),
    minimise sum t subject to -t <= A x - b <= t. Returns the point and whether it was proved optimal within
    ``time_limit`` seconds."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = a.shape[1]
    m = a.shape[0]
    cost = np.concatenate([np.zeros(n), np.ones(m)])
    eye = np.eye(m)
    constraints = [
        LinearConstraint(np.hstack([a, -eye]), -np.inf, b),  # A x - t <= b
        LinearConstraint(np.hstack([a, eye]), b, np.inf),  # A x + t >= b
    ]
    integrality = np.concatenate([np.ones(n), np.zeros(m)])
    bounds = Bounds(np.full(n + m, -np.inf), np.full(n + m, np.inf))
    result = milp(
        cost, constraints=constraints, integrality=integrality, bounds=bounds, options={"time_limit": time_limit}
    )
    if result.x is None:
        msg = f"milp found no solution: {result.message}"
        raise RuntimeError(msg)
    return np.round(result.x[:n]), bool(result.status == 0)


# ---------------------------------------------------------------------------------------------- one cell

#: method names of the CVP table, in display order
METHODS = (
    "naive rounding",
    "Babai (QR)",
    "Babai (LLL)",
    "continuation, final",
    "continuation, best seen",
    "continuation LLL, final",
    "continuation LLL, best seen",
    "Babai LLL + local search",
    "K-best (LLL)",
    "L1 optimum (milp)",
    "sphere decoder (exact)",
)


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def _naive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.round(np.linalg.solve(a, b))


def _babai_qr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    q, r = np.linalg.qr(a)
    return babai(r, q.T @ b)


def solve_cell(
    n: int,
    conditioning: str,
    instances: int,
    seed: int,
    settings: Continuation,
    timed_instances: int,
    milp_instances: int,
) -> list[dict[str, Any]]:
    """Every method on ``instances`` instances of one cell; one row per (instance, method).

    Each row has the objective, the exact optimum (sphere decoding), the relative gap, whether the optimum was
    hit, the objective evaluations spent (integer points whose objective was computed; for the sphere decoder
    the tree nodes visited) and the unbatched seconds. The continuation runs batched over the instances (the
    same arithmetic per instance) and is timed unbatched on the first ``timed_instances``; LLL's time is
    included in every method that uses the reduced basis. ``milp`` (L1) runs on the first ``milp_instances``.
    """
    rng = np.random.default_rng([seed, n, CONDITIONINGS.index(conditioning)])
    problems = [make_instance(n, conditioning, rng) for _ in range(instances)]
    bases = np.stack([a for a, _ in problems])
    targets = np.stack([b for _, b in problems])
    reduced = [_timed(lll_reduce, a) for a, _ in problems]
    red_bases = np.stack([a @ t for (a, _), ((_, _, t), _) in zip(problems, reduced, strict=True)])
    smooth = continuation(bases, targets, settings)
    smooth_lll = continuation(red_bases, targets, settings)
    budget = settings.steps
    width = max(budget // 3, 1)

    plain_times, lll_times = [], []
    for i in range(min(timed_instances, instances)):
        plain_times.append(_timed(continuation, bases[i : i + 1], targets[i : i + 1], settings)[1])
        lll_times.append(_timed(continuation, red_bases[i : i + 1], targets[i : i + 1], settings)[1] + reduced[i][1])
    cont_time = float(np.median(plain_times)) if plain_times else math.nan
    cont_lll_time = float(np.median(lll_times)) if lll_times else math.nan

    rows: list[dict[str, Any]] = []
    for i, ((a, b), ((q, r, t), lll_seconds)) in enumerate(zip(problems, reduced, strict=True)):
        y = q.T @ b
        (z_exact, _, nodes), exact_seconds = _timed(sphere_decode, r, y)
        optimum = objective(a, b, t @ z_exact)
        # method -> (point, unbatched seconds, evaluations, note)
        points: dict[str, tuple[np.ndarray, float, int | None, str]] = {}
        x, sec = _timed(_naive, a, b)
        points["naive rounding"] = (x, sec, 1, "")
        x, sec = _timed(_babai_qr, a, b)
        points["Babai (QR)"] = (x, sec, 1, "")
        z_babai, sec = _timed(babai, r, y)
        points["Babai (LLL)"] = (t @ z_babai, sec + lll_seconds, 1, "")
        points["continuation, final"] = (smooth["final"][i], cont_time, 1, "")
        points["continuation, best seen"] = (smooth["best"][i], cont_time, int(smooth["evaluations"][i]), "")
        points["continuation LLL, final"] = (t @ smooth_lll["final"][i], cont_lll_time, 1, "")
        points["continuation LLL, best seen"] = (
            t @ smooth_lll["best"][i], cont_lll_time, int(smooth_lll["evaluations"][i]), "",
        )
        (z, used), sec = _timed(local_search, a @ t, b, z_babai, budget)
        points["Babai LLL + local search"] = (t @ z, sec + lll_seconds, used, "")
        z, sec = _timed(k_best, r, y, width)
        points["K-best (LLL)"] = (t @ z, sec + lll_seconds, 3 * width, "")
        if i < milp_instances:
            (x, proved), sec = _timed(milp_l1, a, b)
            points["L1 optimum (milp)"] = (x, sec, None, "" if proved else "L1 optimum not proved (time limit)")
        points["sphere decoder (exact)"] = (t @ z_exact, exact_seconds + lll_seconds, nodes, "")
        for method, (x, seconds, evaluations, note) in points.items():
            value = objective(a, b, x)
            rows.append(
                {
                    "n": n,
                    "conditioning": conditioning,
                    "instance": i,
                    "method": method,
                    "objective": value,
                    "optimum": optimum,
                    "gap": (value - optimum) / optimum if optimum > 0 else value,
                    "hit": bool(value <= optimum * (1.0 + 1e-9) + 1e-12),
                    "evaluations": evaluations,
                    "seconds": seconds,
                    "note": note,
                }
            )
    return rows
