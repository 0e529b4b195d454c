"""The README's examples run and print what it says (doctest over README.md)."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

pytest.importorskip("torch")
README = Path(__file__).parent.parent / "README.md"


def test_readme_examples() -> None:
    result = doctest.testfile(
        str(README), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    )
    assert result.attempted >= 15
    assert result.failed == 0
