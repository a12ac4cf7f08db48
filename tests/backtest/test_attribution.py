"""Per-factor P&L attribution: the factors' P&L sums to the gross P&L, bar by bar.

Oracles: a hand-computed example; pandas ``signal.shift(1) * close.pct_change()`` for the
gross P&L of a signal held as a fraction of equity; the engine's own equity curve and its
fills (``BacktestResult.orders``) for the backtest identity
``holding + execution - fees - funding = change of equity``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import random_bars

import quantlab as ql
from quantlab.backtest.attribution import UNATTRIBUTED, attribute_backtest, attribute_pnl
from quantlab.errors import DataError
from quantlab.factors.compose import compose

SPEC = {
    "factors": [
        {"name": "momentum_z", "role": "primary", "weight": 0.6, "normalize": "tanh"},
        {
            "name": "ema_spread",
            "role": "primary",
            "weight": 0.4,
            "normalize": {"method": "zscore", "window": 48},
        },
        {"name": "vol_ratio", "role": "filter", "condition": "< 1.8"},
    ]
}


def test_hand_computed():
    idx = pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC", name="time")
    k = pd.DataFrame({"a": [0.3, 0.6, 0.0, 0.2], "b": [0.1, -0.2, 0.0, 0.2]}, index=idx)
    pos = pd.Series([0.4, 0.4, 0.5, 0.4], index=idx)  # bar 2: held with a flat signal
    close = pd.Series([100.0, 110.0, 99.0, 99.0], index=idx)
    att = attribute_pnl(k, pos, close)
    # shares at close 0: a = 0.3/0.4*0.4 = 0.3, b = 0.1; close 1: a = 0.6/0.4*0.4 = 0.6,
    # b = -0.2; close 2: sum 0 -> all 0.5 unattributed
    np.testing.assert_allclose(
        att.shares.to_numpy(),
        [[0.3, 0.1, 0.0], [0.6, -0.2, 0.0], [0.0, 0.0, 0.5], [0.2, 0.2, 0.0]],
        atol=1e-15,
    )
    # returns: +10 %, -10 %, 0 %
    np.testing.assert_allclose(
        att.pnl.to_numpy(),
        [[0, 0, 0], [0.03, 0.01, 0], [-0.06, 0.02, 0], [0, 0, 0]],
        atol=1e-15,
    )
    np.testing.assert_allclose(att.gross_pnl, [0, 0.04, -0.04, 0.0], atol=1e-15)
    s = att.summary
    assert s.loc["a", "pnl"] == pytest.approx(-0.03) and s.loc["b", "pnl"] == pytest.approx(0.03)
    assert s.loc["a", "hit_rate"] == 0.5 and s.loc["b", "bars"] == 2
    # price mode: units times price change
    att_p = attribute_pnl(k, pos, close, kind="price")
    np.testing.assert_allclose(att_p.pnl["a"], [0, 3.0, -6.6, 0], atol=1e-12)


@pytest.fixture(scope="module")
def composed():
    df = random_bars(1500, seed=21)
    return df, compose(df, SPEC)


def test_identity_on_a_real_composition(composed):
    df, res = composed
    att = attribute_pnl(res.contributions, res.signal, df["close"])
    gross = (res.signal.shift(1) * df["close"].pct_change()).fillna(0.0)
    np.testing.assert_allclose(att.gross_pnl, gross, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(att.pnl.sum(axis=1), att.gross_pnl, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(att.shares.sum(axis=1), res.signal, rtol=1e-12, atol=1e-16)
    assert att.gross_pnl.abs().sum() > 0
    assert list(att.pnl.columns) == ["momentum_z", "ema_spread", UNATTRIBUTED]
    # the signal is the (unclipped) sum of contributions: nothing is unattributed
    assert (att.pnl[UNATTRIBUTED] == 0).all()
    s = att.summary
    assert s.loc[["momentum_z", "ema_spread"], "pnl"].sum() == pytest.approx(
        s.loc["total", "pnl"], rel=1e-12, abs=1e-15
    )
    assert s.loc[["momentum_z", "ema_spread"], "fraction"].sum() == pytest.approx(1.0)


def test_single_factor_owns_everything(composed):
    df, res = composed
    k = res.contributions[["momentum_z"]]
    pos = np.sign(k["momentum_z"])
    att = attribute_pnl(k, pos, df["close"])
    np.testing.assert_allclose(att.pnl["momentum_z"], att.gross_pnl, rtol=1e-15)


def test_attribution_is_causal(composed):
    df, res = composed
    full = attribute_pnl(res.contributions, res.signal, df["close"])
    for t in (200, 777, 1400):
        part = attribute_pnl(res.contributions.iloc[:t], res.signal.iloc[:t], df["close"].iloc[:t])
        pd.testing.assert_frame_equal(part.pnl, full.pnl.iloc[:t])


def test_backtest_identity_against_the_engine():
    df = random_bars(1200, seed=5)
    s = ql.backtest.ma_cross(fast=8, slow=30, direction="both", stop_loss=0.03)
    costs = ql.backtest.Costs(taker_fee=0.0005, maker_fee=0.0002, slippage_bps=2.0)
    df["funding_rate"] = 1e-5
    bt = ql.backtest.run(df, s, costs)
    close = df["close"]
    # two made-up factors whose sum points the same way as the cross
    fast, slow = close.rolling(8).mean(), close.rolling(30).mean()
    k = pd.DataFrame(
        {"spread": ((fast - slow) / slow).fillna(0.0), "mom": close.pct_change(5).fillna(0.0)}
    )
    att = attribute_backtest(bt, k)
    holding = (bt.positions.shift(1) * close.diff()).fillna(0.0)
    np.testing.assert_allclose(att.gross_pnl, holding, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(att.pnl.sum(axis=1), holding, rtol=1e-12, atol=1e-9)
    # execution P&L from the fills: units traded times (close - fill price), per bar
    orders = bt.orders()
    x = np.zeros(len(df))
    np.add.at(
        x,
        orders["idx"].to_numpy(),
        orders["size"].to_numpy() * (close.to_numpy()[orders["idx"]] - orders["price"].to_numpy()),
    )
    np.testing.assert_allclose(att.costs["execution"], x, rtol=1e-9, atol=1e-8)
    d_equity = bt.equity.diff().fillna(bt.equity.iloc[0] - bt.init_cash)
    recon = att.gross_pnl + att.costs["execution"] - att.costs["fees"] - att.costs["funding"]
    np.testing.assert_allclose(recon, d_equity, rtol=1e-12, atol=1e-8)
    assert att.costs["fees"].sum() == pytest.approx(bt.stats["fees_paid"])
    assert att.costs["funding"].sum() == pytest.approx(bt.stats["funding_paid"])
    assert (bt.trades["exit_reason"] == "stop").any()


def test_errors(composed):
    df, res = composed
    k = res.contributions.copy()
    k.iloc[10, 1] = np.nan
    with pytest.raises(DataError, match=r"column 'ema_spread' at 2024-01-01 10:00"):
        attribute_pnl(k, res.signal, df["close"])
    with pytest.raises(DataError, match="index differs"):
        attribute_pnl(res.contributions, res.signal.iloc[1:], df["close"])
    with pytest.raises(DataError, match="reserved"):
        attribute_pnl(
            res.contributions.rename(columns={"ema_spread": UNATTRIBUTED}),
            0 * res.signal,
            df["close"],
        )
    with pytest.raises(DataError, match="kind"):
        attribute_pnl(res.contributions, res.signal, df["close"], kind="log")
    with pytest.raises(DataError, match="expected 1500 values"):
        attribute_pnl(res.contributions, np.zeros(3), df["close"])
    with pytest.raises(DataError, match="BacktestResult"):
        attribute_backtest("nope", res.contributions)  # type: ignore[arg-type]
