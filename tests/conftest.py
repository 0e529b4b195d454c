"""Shared fixtures: the 40-digit reference values of tests/data/reference_values.csv (docs/mathematics.md §10)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "reference_values.csv"


def load_reference() -> list[dict]:
    with DATA.open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def reference_rows() -> list[dict]:
    return load_reference()
