"""Wallet intelligence on the embedded market: clusters vs the planted truth, causal skill."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import normalized_mutual_info_score

import quantlab as ql
from quantlab.data.solana import simulate
from quantlab.errors import DataError


@pytest.fixture(scope="module")
def market():
    return simulate(7)


def test_nmi_equals_sklearn():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.integers(0, rng.integers(1, 8), 200)
        b = rng.integers(0, rng.integers(1, 8), 200)
        want = normalized_mutual_info_score(a, b)
        assert ql.wallets.nmi(a, b) == pytest.approx(want, abs=1e-12)
    assert ql.wallets.nmi([0, 0, 1, 1], ["x", "x", "y", "y"]) == 1.0
    with pytest.raises(DataError, match="length"):
        ql.wallets.nmi([0, 1], [0])


def test_edges_equal_brute_force():
    m = simulate(1, days=0.5, n_noise=10, n_herd=20)
    df = m.swaps
    got = ql.wallets.co_trading_edges(df, "10m").set_index(["a", "b"])["weight"]
    want: dict = {}
    w_ns = 600 * 10**9
    t = df["time"].to_numpy(dtype="datetime64[ns]").view(np.int64).tolist()
    tok, side, wal = (df[c].tolist() for c in ("token", "side", "wallet"))
    for i in range(len(df)):
        for j in range(i + 1, len(df)):
            if abs(t[j] - t[i]) > w_ns or tok[i] != tok[j] or side[i] != side[j]:
                continue
            a, b = sorted((wal[i], wal[j]))
            if a != b:
                want[(a, b)] = want.get((a, b), 0) + 1
    assert dict(got.astype(int)) == want and len(want) > 20


def test_louvain_recovers_planted_clusters(market):
    labels = ql.wallets.clusters(market.swaps, seed=0)
    truth = market.clusters[market.clusters >= 0]
    pred = labels.reindex(truth.index).fillna(-1)
    score = normalized_mutual_info_score(truth.to_numpy(), pred.to_numpy())
    assert score >= 0.9
    assert ql.wallets.nmi(truth, pred) == pytest.approx(score, abs=1e-12)
    # seeded: same partition twice
    again = ql.wallets.clusters(market.swaps, seed=0)
    pd.testing.assert_series_equal(labels, again)


@pytest.mark.parametrize("at", ["2024-01-03 05:17", "2024-01-06", "2024-01-09 12:00"])
def test_skill_has_no_look_ahead(market, at):
    full = ql.wallets.skill(market.swaps, at=at)
    t = market.swaps["time"] < pd.Timestamp(at, tz="UTC")
    cut = ql.wallets.skill(market.swaps[t].reset_index(drop=True), at=at)
    pd.testing.assert_frame_equal(full, cut)
    # and a later swap never changes what was known at `at`
    assert set(full.index) <= set(market.swaps.loc[t, "wallet"])


def test_skill_pnl_by_hand():
    sol = "So11111111111111111111111111111111111111112"
    rows = [
        # wallet A buys 10 tokens for 1 SOL, then 10 for 3 SOL, sells 10 for 4 SOL: cost 2
        ("A", sol, 1.0, "T", 10.0, 0),
        ("A", sol, 3.0, "T", 10.0, 60),
        ("A", "T", 10.0, sol, 4.0, 120),
        ("B", sol, 1.0, "T", 5.0, 180),
        ("B", "T", 5.0, sol, 0.5, 240),
    ]
    df = ql.data.solana.swaps_frame(
        [
            dict(time=1.7e9 + dt, signature=f"s{i}", instruction=0, wallet=w, program="amm",
                 mint_in=mi, amount_in=ai, mint_out=mo, amount_out=ao, fee=0.0)
            for i, (w, mi, ai, mo, ao, dt) in enumerate(rows)
        ]
    )  # fmt: skip
    sk = ql.wallets.skill(df)
    assert sk.loc["A", "realized_pnl"] == pytest.approx(2.0)
    assert sk.loc["B", "realized_pnl"] == pytest.approx(-0.5)
    assert sk.loc["A", "hit_rate"] == 1.0 and sk.loc["B", "hit_rate"] == 0.0


def test_informed_clusters_outperform_other_followers(market):
    sk = ql.wallets.skill(market.swaps)
    roles = market.roles.reindex(sk.index)
    smart = sk.index.isin(market.smart)
    follower = (roles == "follower").to_numpy()
    assert (
        sk.loc[smart & follower, "realized_pnl"].mean()
        > sk.loc[~smart & follower, "realized_pnl"].mean()
    )
    assert sk.loc[(roles == "herd").to_numpy(), "realized_pnl"].mean() < 0
    chosen = ql.wallets.smart_money(sk, top=16)
    informed = sum(w in set(market.smart) for w in chosen)
    base_rate = len(market.smart) / len(sk)  # ~4 %: 0.6 of 16 by chance
    assert len(chosen) == 16 and informed >= 8 > 16 * base_rate * 5
    assert sk.loc[chosen, "realized_pnl"].mean() > 3 * sk["realized_pnl"].mean()
