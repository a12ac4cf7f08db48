"""The smart-money study behind notebook 06 and the On-chain page: honest about time."""

from __future__ import annotations

import pandas as pd
import pytest

from quantlab.data.solana import simulate
from quantlab.reports import onchain


@pytest.fixture(scope="module")
def study():
    return onchain.onchain_study(market=simulate(7, days=6.0), interval="15m")


def test_choices_use_the_training_span_only(study):
    m = study.market
    late = m.swaps[m.swaps["time"] >= study.split]
    # changing every swap after the split changes neither the clusters nor the smart set
    shuffled = m.swaps.copy()
    shuffled.loc[late.index, "wallet"] = shuffled.loc[late.index, "wallet"].to_numpy()[::-1]
    from quantlab import wallets

    train = shuffled[shuffled["time"] < study.split]
    pd.testing.assert_series_equal(wallets.clusters(train), study.labels)
    again = wallets.smart_money(wallets.skill(shuffled, at=study.split), top=len(study.smart))
    assert again == study.smart


def test_scores_and_backtest(study):
    assert study.nmi >= 0.9
    assert study.backtest.equity.index[0] >= study.split
    assert set(study.ic["factor"]) == set(onchain.FLOW_FACTORS)
    assert (study.regimes[["p_quiet", "p_herd", "p_exhaustion"]].sum(axis=1) - 1).abs().max() < 1e-9
    table = onchain.cluster_table(study.labels, study.market.clusters)
    assert table.to_numpy().sum() == (study.market.clusters >= 0).sum()
    summary = onchain.swap_summary(study.market.swaps)
    assert summary["swaps"].sum() == (study.market.swaps["side"] != 0).sum()
