"""smoothround.analysis against the tables of docs/mathematics.md (T2b, T4a, T4b, T6) and against dense evaluation of the core."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smoothround import analysis

# Table T4a (docs/mathematics.md): method, k, L1, r(0.25), r(0.4), r(0.49), width(err > 1e-2), r'(1/2), r'(0)
T4A = """
1 1 0.25 0.25 0.4 0.49 0.98 1.0 1.0
2 1 0.25 0.25 0.4 0.49 0.98 1.0 1.0
1 2 0.2498 0.2497 0.3998 0.49 0.98 1.00204 0.998
2 2 0.2482 0.2471 0.3983 0.4898 0.9796 1.01814 0.9819
1 5 0.2191 0.2015 0.3706 0.4868 0.9717 1.31694 0.7066
2 5 0.1564 0.1053 0.2967 0.4784 0.9219 2.16326 0.2525
1 10 0.136 0.07531 0.2688 0.475 0.8606 2.50091 0.133
2 10 0.07061 0.007767 0.1225 0.4508 0.4727 4.93353 0.00363
1 20 0.06931 0.006693 0.1192 0.4502 0.4595 5.0 0.001816
2 20 0.03466 4.601e-5 0.018 0.4013 0.2298 9.99909 3.298e-7
1 50 0.02773 3.727e-6 0.006693 0.3775 0.1838 12.5 1.389e-9
2 50 0.01386 1.389e-11 4.54e-5 0.2689 0.0919 25.0 7.715e-20
1 100 0.01386 1.389e-11 4.54e-5 0.2689 0.0919 25.0 3.857e-20
2 100 0.006931 1.929e-22 2.061e-9 0.1192 0.04595 50.0 2.976e-41
1 1000 0.001386 2.669e-109 3.72e-44 4.54e-5 0.00919 250.0 1.425e-214
2 1000 6.931e-4 7.125e-218 1.384e-87 2.061e-9 0.004595 500.0 4.061e-431
"""
NAMES = {"1": "window", "2": "density"}
T4A_ROWS = [line.split() for line in T4A.strip().splitlines()]


def close(actual: float, expected: float, digits: int) -> bool:
    """True when ``actual`` printed to ``digits`` significant digits could be the table's ``expected``."""
    if expected < 1e-300:  # below float64's range: the computed value must have underflowed to ~0
        return actual < 1e-300
    return abs(actual - expected) <= 0.5 * 10 ** (math.floor(math.log10(abs(expected))) - digits + 1) * 1.0001


def sig(text: str) -> int:
    mantissa = text.lower().split("e")[0].replace("-", "").replace(".", "").lstrip("0")
    return max(len(mantissa), 1)


@pytest.mark.parametrize("row", T4A_ROWS, ids=lambda r: f"m{r[0]}-k{r[1]}")
def test_t4a_closed_forms(row: list[str]) -> None:
    method, k = NAMES[row[0]], float(row[1])
    computed = [
        analysis.l1_error(method, k),
        analysis.band_error(method, k, 0.25),
        analysis.band_error(method, k, 0.1),
        analysis.band_error(method, k, 0.01),
        analysis.band_width(method, k, 1e-2),
        analysis.derivative_max(method, k),
        analysis.derivative_min(method, k),
    ]
    for value, text in zip(computed, row[2:], strict=True):
        assert close(value, float(text), sig(text)), (method, k, value, text)


# Table T4b (docs/mathematics.md): target -> (window k, density k)
T4B = [
    ({"l1_error": 0.1}, 13.823, 7.3607),
    ({"l1_error": 0.03}, 46.21, 23.106),
    ({"l1_error": 0.01}, 138.63, 69.315),
    ({"l1_error": 1e-3}, 1386.3, 693.15),
    ({"error": 1e-3, "delta": 0.1}, 69.068, 34.534),
    ({"error": 1e-7, "delta": 0.1}, 161.18, 80.59),
    ({"error": 1e-3, "delta": 0.01}, 690.68, 345.34),
    ({"error": 1e-7, "delta": 0.01}, 1611.8, 805.9),
]


@pytest.mark.parametrize(("target", "k_window", "k_density"), T4B)
def test_t4b_k_for(target: dict[str, float], k_window: float, k_density: float) -> None:
    assert close(analysis.k_for("window", **target), k_window, 5)  # type: ignore[arg-type]
    assert close(analysis.k_for("density", **target), k_density, 5 if k_density < 80 else 4)  # type: ignore[arg-type]


def test_t4b_rules() -> None:
    assert analysis.k_rule("window", l1_error=0.1) == pytest.approx(13.863, abs=1e-3)
    assert analysis.k_rule("density", l1_error=0.1) == pytest.approx(6.9315, abs=1e-4)
    assert analysis.k_rule("window", error=1e-3, delta=0.1) == pytest.approx(69.068, abs=1e-3)
    assert analysis.k_rule("density", error=1e-7, delta=0.01) == pytest.approx(805.9, abs=0.05)


@pytest.mark.parametrize("method", analysis.METHODS)
@pytest.mark.parametrize("target", [0.2, 0.05, 1e-3])
def test_k_for_inverts_l1(method: str, target: float) -> None:
    k = analysis.k_for(method, l1_error=target)
    assert analysis.l1_error(method, k) == pytest.approx(target, rel=1e-9)
    assert analysis.l1_error(method, k * 0.99) > target  # the smallest such k


@pytest.mark.parametrize("method", analysis.METHODS)
@pytest.mark.parametrize("floor", [0.9, 0.1, 1e-6, 1e-100])
def test_k_for_min_derivative_is_the_sharpest(method: str, floor: float) -> None:
    k = analysis.k_for(method, min_derivative=floor)
    assert analysis.derivative_min(method, k) == pytest.approx(floor, rel=1e-8)
    assert analysis.derivative_min(method, k * 1.01) < floor < analysis.derivative_min(method, k * 0.99)


def test_k_for_core_agrees_with_closed() -> None:
    assert analysis.k_for("density", l1_error=0.05, via="core") == pytest.approx(
        analysis.k_for("density", l1_error=0.05), rel=1e-9
    )
    assert analysis.k_for("window", min_derivative=0.01, via="core") == pytest.approx(
        analysis.k_for("window", min_derivative=0.01), rel=1e-9
    )


# Table T6 (docs/mathematics.md): tol -> (window k_id, density k_id)
@pytest.mark.parametrize(
    ("tol", "k_window", "k_density"),
    [(analysis.FLOAT32_EPS, 1.032, 0.8831), (analysis.FLOAT64_EPS, 0.4938, 0.4504)],
)
def test_t6_identity_thresholds(tol: float, k_window: float, k_density: float) -> None:
    assert close(analysis.identity_threshold("window", tol), k_window, 4)
    assert close(analysis.identity_threshold("density", tol), k_density, 4)
    assert analysis.is_identity("window", k_window * 0.999, tol)
    assert not analysis.is_identity("window", k_window * 1.001, tol)


def test_tanh_is_never_practically_the_identity() -> None:
    # soft_round's error is ~ k^2 / (36 sqrt 3): the identity only for tiny k (§8)
    assert analysis.identity_threshold("tanh", analysis.FLOAT32_EPS) == pytest.approx(
        math.sqrt(36 * math.sqrt(3) * analysis.FLOAT32_EPS), rel=1e-3
    )
    assert not analysis.is_identity("tanh", 0.1, analysis.FLOAT32_EPS)


# Table T2b (docs/mathematics.md): k -> (m1 pairs, m2 exact, m2 via B2, m1 Fourier, m2 Fourier) at 1e-7 and 1e-16
T2B = {
    0.5: ((33, 38, 43, 0, 0), (74, 81, 86, 1, 1)),
    1: ((17, 19, 20, 0, 1), (37, 41, 42, 1, 2)),
    2: ((9, 10, 10, 1, 2), (19, 20, 20, 3, 4)),
    3: ((6, 6, 6, 2, 3), (13, 14, 14, 5, 6)),
    4: ((5, 5, 5, 3, 4), (10, 10, 10, 7, 8)),
    5: ((4, 4, 4, 4, 5), (8, 8, 8, 9, 10)),
    6: ((3, 3, 3, 5, 6), (7, 7, 7, 11, 12)),
    8: ((3, 3, 3, 6, 8), (5, 5, 5, 15, 17)),
    10: ((2, 2, 2, 8, 11), (4, 4, 4, 18, 22)),
    20: ((1, 1, 1, 16, 27), (2, 2, 2, 37, 49)),
}


@pytest.mark.parametrize("k", list(T2B))
@pytest.mark.parametrize("which", [0, 1])
def test_t2b_terms(k: float, which: int) -> None:
    tol = (1e-7, 1e-16)[which]
    pairs, _m2_exact, m2_b2, f1, f2 = T2B[k][which]
    # the library counts with certified bounds: the exact window pair error, B2 for density, T1/T2 for Fourier
    assert analysis.terms_needed("window", k, tol) == (pairs, f1)
    assert analysis.terms_needed("density", k, tol) == (m2_b2, f2)
    # asking the partials to be within tol too costs more terms, but at most 2 more in the form the core uses
    for method, (direct, fourier) in (("window", (pairs, f1)), ("density", (m2_b2, f2))):
        both = analysis.terms_needed(method, k, tol, partials=True)
        assert both.direct >= direct and both.fourier >= fourier
        assert (both.fourier <= fourier + 2) if k < 4.5 else (both.direct <= direct + 2)


def test_terms_large_k_and_tanh() -> None:
    assert analysis.terms_needed("window", 50.0, 1e-16).direct == 1
    assert analysis.terms_needed("density", 1000.0, 1e-7).direct == 1
    assert analysis.terms_needed("tanh", 5.0, 1e-7) == (None, None)
    # the crossover of docs/mathematics.md §3.4: direct is no longer than Fourier from k ~ 4.65 (window) on
    for k in (4.7, 6.0, 10.0):
        t = analysis.terms_needed("window", k, 1e-16)
        assert t.direct is not None
        assert t.fourier is not None
        assert t.direct <= t.fourier
    t = analysis.terms_needed("window", 4.0, 1e-16)
    assert t.direct is not None
    assert t.fourier is not None
    assert t.direct > t.fourier


QUANTITIES = {
    "l1": lambda m, k, via: analysis.l1_error(m, k, via=via),
    "rms": lambda m, k, via: analysis.rms_error(m, k, via=via),
    "band": lambda m, k, via: analysis.band_error(m, k, 0.1, via=via),
    "band_near": lambda m, k, via: analysis.band_error(m, k, 0.02, via=via),
    "width": lambda m, k, via: analysis.band_width(m, k, 1e-3, via=via),
    "dmin": lambda m, k, via: analysis.derivative_min(m, k, via=via),
    "dmax": lambda m, k, via: analysis.derivative_max(m, k, via=via),
}


@pytest.mark.parametrize("method", analysis.METHODS)
@pytest.mark.parametrize("k", [0.3, 1.0, 3.0, 4.4, 4.6, 7.0, 30.0, 300.0, 1e4])
@pytest.mark.parametrize("quantity", list(QUANTITIES))
def test_closed_forms_match_dense_core(method: str, k: float, quantity: str) -> None:
    closed = QUANTITIES[quantity](method, k, "closed")
    core = QUANTITIES[quantity](method, k, "core")
    assert core == pytest.approx(closed, rel=1e-9, abs=1e-300)


def test_closed_l1_against_independent_quadrature() -> None:
    # the window and tanh L1 are exact series / closed forms; check them against trapezoid sums of the series
    u = np.linspace(0.0, 0.5, 200_001)
    for method, k in [("window", 3.0), ("window", 9.0), ("tanh", 0.7), ("tanh", 40.0)]:
        r = analysis._value(method, u, k)
        trap = 2.0 * float(np.sum((r[1:] + r[:-1]) / 2.0) * (u[1] - u[0]))
        assert analysis.l1_error(method, k) == pytest.approx(trap, rel=1e-8)


def test_tanh_closed_slopes() -> None:
    for k in (0.5, 3.0, 40.0):
        assert analysis.derivative_min("tanh", k) == pytest.approx(k / math.sinh(k), rel=1e-12)
        assert analysis.derivative_max("tanh", k) == pytest.approx(k / (2 * math.tanh(k / 2)), rel=1e-12)


def test_large_k_asymptotics() -> None:
    k = 1e4
    assert k * analysis.l1_error("window", k) == pytest.approx(2 * math.log(2), rel=1e-6)
    assert k * analysis.l1_error("density", k) == pytest.approx(math.log(2), rel=1e-6)
    assert k * analysis.l1_error("tanh", k) == pytest.approx(math.log(2), rel=1e-6)
    assert k * analysis.rms_error("window", k) ** 2 == pytest.approx(2 * (math.log(2) - 0.5), rel=1e-6)
    assert analysis.band_width("window", k, 1e-3) == pytest.approx(2 * math.log(999) / k, rel=1e-3)
    assert analysis.band_width("density", k, 1e-3) == pytest.approx(math.log(999) / k, rel=1e-3)


@pytest.mark.parametrize("method", analysis.METHODS)
def test_small_k_is_the_identity(method: str) -> None:
    assert analysis.l1_error(method, 1e-3) == pytest.approx(0.25, abs=1e-6)
    assert analysis.rms_error(method, 1e-3) == pytest.approx(1 / math.sqrt(12), abs=1e-6)
    assert analysis.band_width(method, 1e-3, 0.01) == pytest.approx(0.98, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    method=st.sampled_from(analysis.METHODS),
    k=st.floats(0.5, 5000.0),
    delta=st.floats(0.0, 0.5),
)
def test_band_error_is_bounded_and_monotone(method: str, k: float, delta: float) -> None:
    e = analysis.band_error(method, k, delta)
    assert 0.0 <= e <= 0.5 - delta + 1e-15  # below the identity's error
    assert analysis.band_error(method, k * 1.5, delta) <= e + 1e-15  # sharper is closer to round
    assert analysis.band_error(method, k, min(delta + 0.05, 0.5)) <= e + 1e-15


def test_error_table_and_format() -> None:
    rows = analysis.error_table([1, 10], ["window", "tanh"])
    assert [(r["method"], r["k"]) for r in rows] == [("window", 1), ("tanh", 1), ("window", 10), ("tanh", 10)]
    assert rows[0]["note"] == "identity (float32)"
    assert rows[1]["note"] == ""
    text = analysis.format_table(rows, ["k", "method", "L1"])
    assert text.splitlines()[0].split() == ["k", "method", "L1"]
    assert "0.136" in text


@pytest.mark.parametrize(
    ("call", "exc"),
    [
        (lambda: analysis.l1_error("nearest", 1.0), ValueError),
        (lambda: analysis.l1_error("window", 0.0), ValueError),
        (lambda: analysis.l1_error("window", float("nan")), ValueError),
        (lambda: analysis.l1_error("window", "5"), TypeError),
        (lambda: analysis.l1_error("window", 5.0, via="mpmath"), ValueError),
        (lambda: analysis.band_error("window", 5.0, 0.7), ValueError),
        (lambda: analysis.band_width("window", 5.0, 0.5), ValueError),
        (lambda: analysis.terms_needed("window", 5.0, 0.0), ValueError),
        (lambda: analysis.k_for("window"), ValueError),
        (lambda: analysis.k_for("window", l1_error=0.3), ValueError),
        (lambda: analysis.k_for("window", error=1e-3), ValueError),
        (lambda: analysis.k_for("window", l1_error=0.1, min_derivative=0.5), ValueError),
        (lambda: analysis.k_for("window", min_derivative=1.0), ValueError),
        (lambda: analysis.k_for("window", error=0.45, delta=0.1), ValueError),
    ],
)
def test_bad_arguments(call: object, exc: type[Exception]) -> None:
    with pytest.raises(exc, match="`"):
        call()  # type: ignore[operator]


def test_import_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, smoothround, smoothround.analysis; "
        "bad = [m for m in ('torch', 'jax', 'matplotlib') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ======================================================================= targets out of reach, extreme k


def test_k_for_widens_its_bracket_where_the_closed_forms_allow() -> None:
    # the old search stopped at the bracket's edge k = 1e7 (L1 there 1.39e-7) and returned it as the answer
    k = analysis.k_for("window", l1_error=1e-9)
    assert k == pytest.approx(2 * math.log(2) / 1e-9, rel=1e-9)
    assert analysis.l1_error("window", k) == pytest.approx(1e-9, rel=1e-9)
    # ... and at k = 1e-3 (slope 0.99999983 there): soft_round's slope is 1 - k^2/6 for small k
    k = analysis.k_for("tanh", min_derivative=0.9999999999)
    assert k == pytest.approx(math.sqrt(6e-10), rel=1e-6)
    assert analysis.derivative_min("tanh", k) >= 0.9999999999 > analysis.derivative_min("tanh", k * 1.01)


@pytest.mark.parametrize(
    ("method", "target", "named"),
    [
        ("window", {"l1_error": 1e-305}, "`l1_error` = 1e-305"),
        ("window", {"error": 0.1, "delta": 1e-300}, "`error` = 0.1 at `delta` = 1e-300"),
        ("density", {"l1_error": 1e-9, "via": "core"}, "`l1_error` = 1e-09"),
    ],
)
def test_k_for_out_of_reach_raises(method: str, target: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match="out of reach") as info:
        analysis.k_for(method, **target)  # type: ignore[arg-type]
    message = str(info.value)
    assert named in message
    assert repr(method) in message
    assert "over k in [1e-12, 1e+" in message  # the reachable range


@pytest.mark.parametrize("method", analysis.METHODS)
@pytest.mark.parametrize("k", [1e-300, 1e-20, 1e-9])
def test_tiny_k_gives_the_identity_limits(method: str, k: float) -> None:
    assert analysis.l1_error(method, k) == pytest.approx(0.25, rel=1e-12)
    assert analysis.rms_error(method, k) == pytest.approx(1 / math.sqrt(12), rel=1e-12)
    assert analysis.band_width(method, k, 0.01) == pytest.approx(0.98, rel=1e-12)
    assert analysis.band_error(method, k, 0.1) == pytest.approx(0.4, rel=1e-12)
    assert analysis.derivative_min(method, k) == pytest.approx(1.0, rel=1e-12)
    assert analysis.derivative_max(method, k) == pytest.approx(1.0, rel=1e-12)
    assert analysis.is_identity(method, k)


# leading-order forms (docs/mathematics.md §9), exact to O(e^(-k/2)): L1 * k, RMS^2 * k, band width * k / ln(1/eps - 1),
# band error at delta = 3/k
HUGE_K = {
    "window": (2 * math.log(2), 2 * (math.log(2) - 0.5), 2.0, 1 / (1 + math.exp(3))),
    "density": (math.log(2), math.log(2) - 0.5, 1.0, 1 / (1 + math.exp(6))),
    "tanh": (math.log(2), math.log(2) - 0.5, 1.0, 1 / (1 + math.exp(6))),
}


@pytest.mark.parametrize("method", analysis.METHODS)
@pytest.mark.parametrize("k", [1e9, 1e15, 1e100, 1e300])
def test_huge_k_follows_the_leading_order_forms(method: str, k: float) -> None:
    l1, ms, width, band = HUGE_K[method]
    assert k * analysis.l1_error(method, k) == pytest.approx(l1, rel=1e-9)
    assert k * analysis.rms_error(method, k) ** 2 == pytest.approx(ms, rel=1e-9)
    assert k * analysis.band_width(method, k, 0.01) == pytest.approx(width * math.log(99), rel=1e-6)
    assert analysis.band_error(method, k, 3.0 / k) == pytest.approx(band, rel=1e-9)
    assert analysis.derivative_min(method, k) == 0.0  # 2k e^(-k/2) and smaller: below float64's range
    assert analysis.derivative_max(method, k) == pytest.approx(k / 4 if method == "window" else k / 2)


@pytest.mark.parametrize(
    ("call", "via"),
    [
        (lambda: analysis.l1_error("window", 1e-310), "closed"),
        (lambda: analysis.rms_error("tanh", 1e301), "closed"),
        (lambda: analysis.band_width("density", 1e-310, 0.01), "closed"),
        (lambda: analysis.l1_error("density", 1e9, via="core"), "core"),
    ],
)
def test_k_outside_the_supported_range_raises(call: object, via: str) -> None:
    high = "1e+08" if via == "core" else "1e+300"
    with pytest.raises(ValueError, match=re.escape(f"`k` must be in [1e-300, {high}]")):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("method", ["window", "density"])
def test_terms_needed_beyond_the_cap_is_none(method: str) -> None:
    assert analysis.terms_needed(method, 1e-300, 1e-7).direct is None
    assert analysis.terms_needed(method, 1e-300, 1e-7).fourier == 0
    assert analysis.terms_needed(method, 1e300, 1e-7) == (1, None)
