"""The examples of the README and of the docs run and print what they say (doctest over each document)."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
ROOT = Path(__file__).parent.parent
# each document with the number of examples it has at least (so an example cannot silently disappear)
DOCUMENTS = {"README.md": 15, "docs/training.md": 30, "docs/toolbox.md": 15}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(("document", "at_least"), DOCUMENTS.items(), ids=list(DOCUMENTS))
def test_document_examples(document: str, at_least: int) -> None:
    if document == "docs/training.md":
        pytest.importorskip("jax")
        pytest.importorskip("optax")
    result = doctest.testfile(
        str(ROOT / document), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    )
    assert result.attempted >= at_least
    assert result.failed == 0
