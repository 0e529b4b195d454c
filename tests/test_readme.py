"""The examples of the README and of the docs run and print what they say (doctest over each document)."""

from __future__ import annotations

import doctest
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
ROOT = Path(__file__).parent.parent
# each document with the number of examples it has at least (so an example cannot silently disappear)
DOCUMENTS = {"README.md": 15, "docs/training.md": 30, "docs/toolbox.md": 15}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """The documents' tensors are tiny: on a busy machine a second OpenMP thread only spins at every barrier
    (the QAT loop of docs/training.md took 24 s with 2 threads and 1.5 s with 1 under load). Restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
