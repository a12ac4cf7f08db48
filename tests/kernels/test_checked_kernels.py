"""The fused-check kernels equal their plain kernels bit for bit and find the first bad row."""

from __future__ import annotations

import numpy as np
import pytest

from quantlab.factors.conformance import synthetic_bars
from quantlab.kernels import ta

PAIRS = [
    (ta.atr_checked_nb, ta.atr_nb, 3),
    (ta.natr_checked_nb, ta.natr_nb, 3),
    (ta.adx_checked_nb, ta.adx_nb, 3),
    (ta.obv_checked_nb, ta.obv_nb, 0),
]


@pytest.mark.parametrize("checked, plain, n_price", PAIRS, ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("n", [0, 1, 2, 5, 40, 700])
def test_bit_identical_and_first_bad_row(checked, plain, n_price, n):
    df = synthetic_bars(max(n, 1), seed=n)[:n]
    if n_price:
        cols = [df[k].to_numpy().copy() for k in ("high", "low", "close")]
        windows = [1, 2, 3, 14] if plain is not ta.natr_nb else [2, 3, 14]
    else:
        cols = [df[k].to_numpy().copy() for k in ("close", "volume")]
        windows = [None]
    for w in windows:
        args = (*cols, w) if w is not None else tuple(cols)
        out, first = checked(*args)
        np.testing.assert_array_equal(out, plain(*args))
        assert first == -1
    if n >= 5:
        for j, row, bad in ((0, 3, np.nan), (len(cols) - 1, 1, np.inf), (1, n - 1, -np.inf)):
            broken = [c.copy() for c in cols]
            broken[j][row] = bad
            args = (*broken, 3) if n_price else tuple(broken)
            assert checked(*args)[1] == row
