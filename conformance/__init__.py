"""Conformance of smoothround against independent high-precision oracles, in the manner of scipy.special's
mpmath tests.

* ``rounding_oracle.py`` and ``toolbox_oracle.py`` compute the truth with mpmath at 50 digits from the defining
  formulas (they do not import smoothround) and write ``tests/data/oracle_*.npz``;
* ``rounding.py`` and ``toolbox.py`` evaluate the library on every backend, dtype and form of ``k`` at those
  points and score it with the measures of ``measures.py``;
* ``python -m conformance`` prints the worst error of every group against its tolerance (the README's accuracy
  table), and the tests in ``tests/test_conformance_*.py`` hold every group to its tolerance.
"""
