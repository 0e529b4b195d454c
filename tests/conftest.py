"""Shared fixtures: the 40-digit reference values of tests/data/reference_values.csv (docs/mathematics.md §10),
and one torch thread for modules of tiny tensors."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "reference_values.csv"


def load_reference() -> list[dict]:
    with DATA.open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def reference_rows() -> list[dict]:
    return load_reference()


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch thread for a module whose tensors are tiny: on a busy machine a second OpenMP thread only spins
    at every barrier (the QAT loop of docs/training.md took 24 s with 2 threads and 1.5 s with 1 under load).
    Restored afterwards. Use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
