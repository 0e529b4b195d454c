"""The `smoothround` command: the report folder, its tables against docs/mathematics.md, bad arguments, the page in Chromium.

The browser test needs Debian's `chromium` at /usr/bin/chromium (or SMOOTHROUND_CHROMIUM). `make test` installs
it where it can (as root with apt-get, as in CI) and otherwise sets SMOOTHROUND_SKIP_BROWSER=1, which skips this
one test with that reason. A missing browser without that variable is a failure.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FIGURES = ["round_vs_k.png", "error_vs_k.png", "derivatives.png", "terms_vs_k.png"]
TABLES = ["error_vs_k", "identity", "k_for", "terms", "checks"]
CHROMIUM = os.environ.get("SMOOTHROUND_CHROMIUM", "/usr/bin/chromium")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "smoothround.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """`smoothround report` with no arguments, run in an empty folder: the default output folder `report`."""
    cwd = tmp_path_factory.mktemp("cli")
    result = run("report", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return cwd / "report", result


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_promised_file_exists(report: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = report
    assert (out / "index.html").is_file()
    for name in FIGURES + [f"{t}.csv" for t in TABLES]:
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 100, name


def test_pngs_decode_and_are_not_blank(report: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = report
    for png in sorted(out.glob("*.png")):
        with Image.open(png) as im:
            im.verify()
        with Image.open(png) as im:
            pixels = np.asarray(im.convert("RGB"), dtype=np.float64)
        assert pixels.shape[0] > 200, png.name
        assert pixels.shape[1] > 400, png.name
        ink = np.mean(pixels.min(axis=2) < 200)  # share of pixels that are not near-white
        assert ink > 0.01, (png.name, ink)
        colour = np.mean(pixels.max(axis=2) - pixels.min(axis=2) > 80)  # the curves are coloured
        assert colour > 0.002, (png.name, colour)


def test_html_names_every_figure_and_table(report: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = report
    page = (out / "index.html").read_text(encoding="utf-8")
    for name in FIGURES:
        assert f'<img src="{name}"' in page, name
    for name in TABLES:
        assert f'href="{name}.csv"' in page, name
        assert f'data-table="{name}"' in page, name
    # every image the page shows is a file in the folder
    for src in re.findall(r'<img src="([^"]+)"', page):
        assert (out / src).is_file(), src
    # the toolbox gallery is drawn
    assert '<img src="toolbox_gallery.png"' in page
    assert "Practically the identity" in page


def test_stdout_has_the_error_table(report: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, result = report
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("k ") and "L1" in line)
    assert lines[header].split()[:5] == ["k", "method", "L1", "k*L1", "RMS"]
    rows = [line.split() for line in lines[header + 2 : header + 26]]
    assert len(rows) == 24
    by_key = {(r[0], r[1]): r for r in rows}
    assert by_key["10", "window"][2] == "0.136"
    assert by_key["10", "density"][2] == "0.07061"
    assert "identity (float32)" in " ".join(by_key["1", "window"])
    assert "Traceback" not in result.stderr


# Table T4a of docs/mathematics.md (L1, r'(1/2), r'(0)) for the error_vs_k.csv the report writes
T4A = {
    ("window", 5.0): (0.2191, 1.31694, 0.7066),
    ("density", 5.0): (0.1564, 2.16326, 0.2525),
    ("window", 10.0): (0.136, 2.50091, 0.133),
    ("density", 10.0): (0.07061, 4.93353, 0.00363),
    ("window", 20.0): (0.06931, 5.0, 0.001816),
    ("density", 20.0): (0.03466, 9.99909, 3.298e-7),
    ("window", 100.0): (0.01386, 25.0, 3.857e-20),
    ("density", 100.0): (0.006931, 50.0, 2.976e-41),
    ("window", 1000.0): (0.001386, 250.0, 1.425e-214),
}


def test_error_csv_agrees_with_spec_t4a(report: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = report
    rows = {(r["method"], float(r["k"])): r for r in read_csv(out / "error_vs_k.csv")}
    assert len(rows) == 24
    for key, (l1, dmax, dmin) in T4A.items():
        row = rows[key]
        assert float(row["L1"]) == pytest.approx(l1, rel=6e-4), key
        assert float(row["r'(1/2) max"]) == pytest.approx(dmax, rel=1e-5), key
        assert float(row["r'(0) min"]) == pytest.approx(dmin, rel=6e-4), key
        assert float(row["err(dist>=0.1)"]) < 0.5


def test_k_for_csv_agrees_with_spec_t4b(report: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = report
    rows = {r["target"]: r for r in read_csv(out / "k_for.csv")}
    expected = {
        "L1 = 0.1": (13.823, 7.3607),
        "L1 = 0.01": (138.63, 69.315),
        "err <= 0.001 when dist(x, Z+1/2) >= 0.1": (69.068, 34.534),
        "err <= 1e-07 when dist(x, Z+1/2) >= 0.01": (1611.8, 805.9),
    }
    for target, (kw, kd) in expected.items():
        assert float(rows[target]["window k"]) == pytest.approx(kw, rel=1e-4), target
        assert float(rows[target]["density k"]) == pytest.approx(kd, rel=1e-4), target
    assert float(rows["L1 = 0.1"]["window rule"]) == pytest.approx(13.863, rel=1e-4)
    assert float(rows["r'(integer) >= 0.001"]["window k"]) > 10


def test_identity_csv_agrees_with_spec_t6(report: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = report
    rows = {(r["method"], r["dtype"]): r for r in read_csv(out / "identity.csv")}
    expected = {
        ("window", "float32"): 1.032,
        ("window", "float64"): 0.4938,
        ("density", "float32"): 0.8831,
        ("density", "float64"): 0.4504,
    }
    for key, k_id in expected.items():
        assert float(rows[key]["identity for k <="]) == pytest.approx(k_id, abs=6e-4), key
    assert rows["window", "float32"]["identity at k = 1"] == "True"
    assert rows["window", "float64"]["identity at k = 1"] == "False"


def test_terms_csv_agrees_with_spec_t2b(report: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = report
    rows = {(float(r["k"]), float(r["tol"])): r for r in read_csv(out / "terms.csv")}
    # k, tol: m1 pairs, m2 via the certified bound B2, m1 Fourier, m2 Fourier (Table T2b of docs/mathematics.md)
    expected = {
        (1.0, 1e-7): (17, 20, 0, 1),
        (5.0, 1e-7): (4, 4, 4, 5),
        (10.0, 1e-7): (2, 2, 8, 11),
        (0.5, 1e-16): (74, 86, 1, 1),
        (4.0, 1e-16): (10, 10, 7, 8),
        (20.0, 1e-16): (2, 2, 37, 49),
    }
    for key, (p1, m2, f1, f2) in expected.items():
        row = rows[key]
        got = (row["window direct"], row["density direct"], row["window Fourier"], row["density Fourier"])
        assert tuple(int(v) for v in got) == (p1, m2, f1, f2), key
        # the core also bounds the partials: never fewer terms
        assert int(row["core window direct"]) >= p1 and int(row["core window Fourier"]) >= f1


def test_checks_csv_all_agree(report: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = report
    rows = read_csv(out / "checks.csv")
    assert len(rows) == 21
    assert all(r["agree"] == "True" for r in rows), [r for r in rows if r["agree"] != "True"]


def test_out_option_and_plot_and_table(tmp_path: Path) -> None:
    result = run("plot", "round", "terms", "--out", "figs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "figs" / "round_vs_k.png").is_file()
    assert (tmp_path / "figs" / "terms_vs_k.png").is_file()
    assert not (tmp_path / "figs" / "error_vs_k.png").exists()
    result = run("table", "error", "--k", "10", "--method", "window", "--format", "csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("10.0,window,0.13")
    result = run("k-for", "density", "--error", "1e-3", "--delta", "0.1", cwd=tmp_path)
    assert result.returncode == 0
    assert float(result.stdout) == pytest.approx(34.534, rel=1e-4)


def test_help(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for word in ("report", "plot", "table", "k-for"):
        assert word in result.stdout
    result = run("report", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "--out" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--bogus"],
        ["frobnicate"],
        ["table", "nope"],
        ["table", "error", "--k", "-1"],
        ["table", "terms", "--k", "5"],
        ["plot", "nosuch"],
        ["k-for", "window"],
        ["k-for", "window", "--l1-error", "abc"],
        ["k-for", "window", "--l1-error", "0.3"],
        ["k-for", "window", "--error", "1e-3"],
        ["k-for", "window", "--min-derivative", "2"],
        ["k-for", "nearest", "--l1-error", "0.1"],
        ["report", "--out", "a_file"],
        ["report", "--out", ""],
        ["plot", "--out", " "],
        ["table", "error", "--k", "1e-310"],
        ["table", "error", "--k", "1e301"],
        ["k-for", "window", "--l1-error", "1e-320"],
        ["k-for", "window", "--error", "0.1", "--delta", "1e-300"],
    ],
)
def test_bad_arguments_one_line_no_traceback(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "a_file").write_text("not a folder")
    result = run(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("smoothround: error: "), result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["report", "--out", ""], "--out"),
        (["table", "error", "--k", "1e-310"], "--k"),
        (["k-for", "window", "--l1-error", "1e-320"], "--l1-error = 1e-320 is out of reach"),
        (["k-for", "window", "--error", "0.1", "--delta", "1e-300"], "--error = 0.1 at --delta = 1e-300"),
    ],
)
def test_errors_name_the_argument(tmp_path: Path, args: list[str], named: str) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert named in result.stderr, result.stderr
    assert "Warning" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written (an empty --out used to mean the current folder)


def test_extreme_k_gives_the_limits_without_warnings(tmp_path: Path) -> None:
    # k = 1e-300 used to end in a numpy RuntimeWarning and "float division by zero"
    result = run("table", "error", "--k", "1e-300", "1e300", "--format", "csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert len(rows) == 6
    for row in rows:
        values = [float(row[c]) for c in ("L1", "RMS", "r'(0) min", "r'(1/2) max")]
        assert all(np.isfinite(values)), row
        if float(row["k"]) < 1:
            assert values == pytest.approx([0.25, 1 / np.sqrt(12), 1.0, 1.0], rel=1e-12)
        else:
            assert float(row["k*L1"]) == pytest.approx(np.log(2) * (2 if row["method"] == "window" else 1))
    # the search no longer stops at its old edge k = 1e7: the L1 error there is 1.39e-7, not 1e-9
    result = run("k-for", "window", "--l1-error", "1e-9", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == pytest.approx(2 * np.log(2) / 1e-9, rel=1e-5)


# ======================================================================= headless Chromium


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
    ]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


def coloured_share(png: Path) -> float:
    """Share of pixels in the figures' red or green (links are blue, notes amber: they do not count)."""
    with Image.open(png) as im:
        px = np.asarray(im.convert("RGB"), dtype=np.float64)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    return float(np.mean((r - np.maximum(g, b) > 100) | (g - np.maximum(r, b) > 50)))


@pytest.fixture(scope="module")
def browser() -> str:
    found = Path(CHROMIUM).exists() or shutil.which(CHROMIUM)
    if os.environ.get("SMOOTHROUND_SKIP_BROWSER") and not found:
        pytest.skip(f"needs headless Chromium at {CHROMIUM} (Debian's chromium; as root: make browser)")
    if not found:
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (as root: make browser)")
    return CHROMIUM


def test_page_renders_images_in_chromium(
    browser: str, report: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out, _ = report
    url = (out / "index.html").resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        dom = chromium("--dump-dom", url, profile=Path(profile))
    assert dom.returncode == 0, dom.stderr[-2000:]
    total = re.search(r'data-images-total="(\d+)"', dom.stdout)
    ok = re.search(r'data-images-ok="(\d+)"', dom.stdout)
    assert total, "the page's load script did not run"
    assert ok
    assert int(total.group(1)) >= len(FIGURES)
    assert ok.group(1) == total.group(1), "some images did not decode in the browser"

    # Screenshot of the real page against the same page with its images removed (broken): the
    # figures' coloured curves must show up only in the real one.
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    for png in broken.glob("*.png"):
        png.unlink()
    shots = {}
    for name, folder in (("real", out), ("broken", broken)):
        shot = tmp_path / f"{name}.png"
        with tempfile.TemporaryDirectory() as profile:
            res = chromium(
                f"--screenshot={shot}",
                "--window-size=1300,2600",
                (folder / "index.html").resolve().as_uri(),
                profile=Path(profile),
            )
        assert res.returncode == 0, res.stderr[-2000:]
        assert shot.is_file()
        shots[name] = coloured_share(shot)
    assert shots["real"] > 0.002, shots
    assert shots["real"] > 10 * shots["broken"], shots


# ======================================================================= pipes and missing extras


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`smoothround table terms | head -0`: the reader is gone before the first line (closed at once, so the
    write surely fails, whatever the pipe's buffer); no traceback, no error, exit status 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "smoothround.cli", "table", "terms"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    with proc:
        proc.stdout.close()
        returncode = proc.wait(timeout=120)
        stderr = proc.stderr.read().decode()
    assert returncode == 0, stderr
    assert stderr == ""


def test_a_missing_optional_dependency_names_the_extra(tmp_path: Path) -> None:
    """Without rich, `smoothround report` says which extra to install instead of `No module named 'rich'`."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'rich' or name.startswith('rich.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-m", "smoothround.cli", "report", "--out", str(tmp_path / "r")],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "smoothround: error: this command needs the optional dependency 'rich': pip install 'smoothround[report]'"
    )
