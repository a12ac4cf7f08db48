"""Capital-flow IMM on the embedded on-chain market: physical states, branches, causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlab.data.solana import flow_bars, simulate
from quantlab.errors import ConfigError, DataError
from quantlab.models import IMM, KalmanFilter
from quantlab.models.capital_flow import CapitalFlowModel


@pytest.fixture(scope="module")
def market():
    return simulate(7)


@pytest.fixture(scope="module")
def bars(market):
    tok = market.tokens[0]
    return flow_bars(market.swaps, tok, "5m", smart=market.smart, clusters=market.clusters)


def test_branches_are_the_imm_of_two_kalman_filters(bars):
    model = CapitalFlowModel(scale=2.0).fit(bars)
    out = model.filter(bars)
    net = (bars["buy_flow"] - bars["sell_flow"]).to_numpy()
    s2 = 4.0
    quiet = KalmanFilter(
        F=[[0.3, 0], [0, 0]], H=[[1, 0]], Q=[[0.05 * s2, 0], [0, 1e-9 * s2]],
        R=[[4.0 * s2]], x0=[0, 0], P0=np.eye(2) * s2,
    )  # fmt: skip
    herd = KalmanFilter(
        F=[[1, 1], [0, 0.9]], H=[[1, 0]],
        Q=0.05 * s2 * np.array([[0.25, 0.5], [0.5, 1.0]]),
        R=[[4.0 * s2]], x0=[0, 0], P0=np.eye(2) * s2,
    )  # fmt: skip
    T = [[0.98, 0.02], [0.02, 0.98]]
    res = IMM([quiet, herd], T, [0.99, 0.01]).filter(net)
    np.testing.assert_allclose(out["p_quiet"], res.mu[:, 0], rtol=1e-10)
    np.testing.assert_allclose(out["p_herd"] + out["p_exhaustion"], res.mu[:, 1], rtol=1e-10)
    np.testing.assert_allclose(out["flow_rate"], res.x[:, 0], rtol=1e-10)
    probs = out[["p_quiet", "p_herd", "p_exhaustion"]].sum(axis=1)
    np.testing.assert_allclose(probs, 1.0, rtol=1e-12)


def test_no_look_ahead(bars):
    model = CapitalFlowModel().fit(bars)
    full = model.filter(bars)
    for t in (1, 50, len(bars) // 2, len(bars) - 1):
        part = model.filter(bars.iloc[:t])
        pd.testing.assert_frame_equal(part, full.iloc[:t])


def test_every_herd_is_detected_early_and_quiet_stays_quiet(market):
    # the herd's buying starts from zero intensity (a gamma(2) bump), so its first bars look
    # like noise: score the detection delay, not the first bar
    delays, quiet_ok, n_quiet = [], 0, 0
    for tok in market.tokens:
        b = flow_bars(market.swaps, tok, "5m")
        regime = CapitalFlowModel().fit_filter(b)["regime"].to_numpy()
        spans = market.phases[(market.phases["token"] == tok) & (market.phases["phase"] == "herd")]
        for span in spans.itertuples():
            flagged = regime[(b.index >= span.start) & (b.index < span.end)] != "quiet"
            assert flagged.any(), f"herd on {tok} at {span.start} never detected"
            delays.append(int(np.argmax(flagged)))
            assert flagged[np.argmax(flagged) :].mean() >= 0.8  # and it stays detected
        quiet = market.phase_at(tok, b.index).to_numpy() == "quiet"
        quiet_ok += int((regime[quiet] == "quiet").sum())
        n_quiet += int(quiet.sum())
    assert len(delays) == 8 and np.median(delays) <= 4  # bars of 5 minutes
    assert quiet_ok / n_quiet >= 0.95


def test_bad_input():
    with pytest.raises(DataError, match="row 2"):
        CapitalFlowModel().fit([1.0, 2.0, np.nan])
    with pytest.raises(ConfigError, match="decay"):
        CapitalFlowModel(decay=1.5).fit([1.0, 2.0])
    with pytest.raises(ConfigError, match="fit"):
        CapitalFlowModel().filter([1.0])
