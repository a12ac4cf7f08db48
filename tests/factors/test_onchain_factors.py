"""On-chain flow factors against pandas/closed-form oracles, and swaps -> bars aggregation.

The conformance suite (tests/factors/test_conformance.py) already runs every one of them,
prefix test included, because ``conformance.synthetic_bars`` carries the flow columns.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import quantlab as ql
from quantlab.data.solana import flow_bars, simulate
from quantlab.factors.conformance import synthetic_bars
from quantlab.kernels.onchain import herd_buyers_nb

ONCHAIN = [
    "sm_net_flow",
    "swap_flow_imbalance",
    "cluster_herd",
    "sm_hawkes",
    "amm_price_impact",
    "amm_depth",
    "amm_liquidity_change",
    "swap_momentum",
]


@pytest.fixture(scope="module")
def df():
    return synthetic_bars(500, seed=4)


def test_registered_with_roles():
    for name in ONCHAIN:
        assert name in ql.factors.names()
    assert ql.factors.spec("sm_net_flow").role == "primary"
    assert ql.factors.spec("amm_price_impact").role == "filter"


def test_flow_factors_equal_pandas(df):
    b, s = df["buy_flow"], df["sell_flow"]
    sb, ss = df["sm_buy_flow"], df["sm_sell_flow"]
    got = ql.factors.compute("sm_net_flow", df, window=10)
    pd.testing.assert_series_equal(got, (sb - ss).rolling(10).sum(), check_names=False)
    got = ql.factors.compute("swap_flow_imbalance", df, window=8)
    want = (b.rolling(8).sum() - s.rolling(8).sum()) / (b.rolling(8).sum() + s.rolling(8).sum())
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    got = ql.factors.compute("cluster_herd", df, span=5)
    want = df["herd_buyers"].ewm(span=5, adjust=False).mean()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    got = ql.factors.compute("swap_momentum", df, fast=4, slow=20)
    net, gross = b - s, b + s
    want = (net.rolling(4).mean() - net.rolling(20).mean()) / gross.rolling(20).mean()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_hawkes_excitation_equals_direct_sum(df):
    beta = 0.3
    n = df["sm_buys"].to_numpy()
    got = ql.factors.compute("sm_hawkes", df, decay=beta).to_numpy()
    t = np.arange(len(n))
    want = np.array([(np.exp(-beta * (k - t[: k + 1])) * n[: k + 1]).sum() for k in t])
    np.testing.assert_allclose(got, (1 - math.exp(-beta)) * want, rtol=1e-10)


def test_amm_factors_equal_the_swap_done_by_hand(df):
    r_sol, r_tok = 250.0, 2.5e6
    one = pd.DataFrame(
        {"reserve_sol": [r_sol], "reserve_token": [r_tok]},
        index=pd.DatetimeIndex(["2024-01-01"], tz="UTC", name="time"),
    )
    size, fee = 5.0, 0.003
    out = r_tok * (1 - fee) * size / (r_sol + (1 - fee) * size)  # tokens received
    impact = (size / out) / (r_sol / r_tok) - 1.0
    assert ql.factors.compute("amm_price_impact", one, size=size, fee=fee).iloc[0] == (
        pytest.approx(impact, rel=1e-12)
    )
    # depth: the SOL that lifts the price by 2 % keeps x * y = k
    d = ql.factors.compute("amm_depth", one, move=0.02).iloc[0]
    k = r_sol * r_tok
    new_sol = r_sol + d
    assert (new_sol / (k / new_sol)) / (r_sol / r_tok) == pytest.approx(1.02, rel=1e-12)
    got = ql.factors.compute("amm_liquidity_change", df, window=5)
    want = 0.5 * np.log(df["reserve_sol"] * df["reserve_token"]).diff(5)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_herd_buyers_equals_brute_force():
    rng = np.random.default_rng(3)
    n = 400
    t = np.sort(rng.integers(0, 10_000, n)).astype(np.int64)
    wallet = rng.integers(0, 30, n).astype(np.int64)
    cluster_of = rng.integers(-1, 4, 30)
    cluster = cluster_of[wallet].astype(np.int64)
    buy = rng.random(n) < 0.6
    ends = np.arange(100, 10_200, 100, dtype=np.int64)
    got = herd_buyers_nb(t, wallet, cluster, buy, ends, 700, 30, 4)
    for b, e in enumerate(ends):
        m = (t >= e - 700) & (t < e) & buy & (cluster >= 0)
        want = max([len(set(wallet[m & (cluster == c)])) for c in range(4)])
        assert got[b] == want


@pytest.fixture(scope="module")
def market():
    return simulate(7, days=3.0)


def test_flow_bars_equal_groupby(market):
    token = market.tokens[0]
    smart = set(market.smart)
    bars = flow_bars(market.swaps, token, "15m", smart=smart, pools=market.pools)
    sw = market.swaps[market.swaps["token"] == token]
    key = sw["time"].dt.floor("15min")
    g = sw.groupby(key)
    np.testing.assert_allclose(bars["close"].reindex(g.size().index), g["price"].last())
    np.testing.assert_allclose(bars["high"].reindex(g.size().index), g["price"].max())
    buy = sw["sol"].where(sw["side"] > 0, 0.0).groupby(key).sum()
    np.testing.assert_allclose(bars["buy_flow"].reindex(buy.index), buy, rtol=1e-12)
    smb = sw["sol"].where((sw["side"] > 0) & sw["wallet"].isin(smart), 0.0).groupby(key).sum()
    np.testing.assert_allclose(bars["sm_buy_flow"].reindex(smb.index), smb, rtol=1e-12)
    res = market.pools.loc[sw.index].groupby(key.to_numpy())["reserve_sol"].last()
    np.testing.assert_allclose(bars["reserve_sol"].reindex(res.index), res)
    assert (bars["volume"] >= 0).all() and bars.index.is_monotonic_increasing
    ql.data.validate(bars[["open", "high", "low", "close", "volume"]], "15m")


def test_flow_bars_are_causal(market):
    token = market.tokens[1]
    kw = dict(smart=market.smart, clusters=market.clusters, pools=market.pools)
    full = flow_bars(market.swaps, token, "15m", **kw)
    cut = full.index[len(full) // 2]
    part_sw = market.swaps[market.swaps["time"] < cut]
    part_kw = {**kw, "pools": market.pools.loc[part_sw.index]}
    # bars run to `end` (an idle stretch before the cut is still bars, flat, zero flow)
    part = flow_bars(part_sw, token, "15m", start=full.index[0], end=cut, **part_kw)
    pd.testing.assert_frame_equal(part, full[full.index < cut], check_freq=False)
    for name in ONCHAIN:
        a = ql.factors.compute(name, part)
        b = ql.factors.compute(name, full).iloc[: len(part)]
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
