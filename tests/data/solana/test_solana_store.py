"""Swaps in the Parquet store: no duplicates on re-fetch; ql.data.load("solana", ...)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import quantlab as ql
from quantlab.data.solana import SwapStore, parse_swaps, simulate, swaps_frame
from quantlab.errors import ConfigError, DataError

FILES = [
    "solana_txs_orca_serum/trx-swap-serum-1.json",
    "solana_txs_orca_serum/trx-swap-serum-3.json",
    "solana_txs_pumpfun_raydium/raydium_amm_v4_rpc.json",
    "solana_txs_pumpfun_raydium/pumpfun_buy_rpc.json",
]


@pytest.fixture
def real_swaps(fixtures_dir):
    return [s for f in FILES for s in parse_swaps(json.loads((fixtures_dir / f).read_text()))]


def test_write_twice_keeps_each_swap_once(tmp_path, real_swaps):
    store = SwapStore(tmp_path)
    assert store.write(real_swaps) == 4
    assert store.write(real_swaps[1:]) == 0  # a re-fetch of an overlapping range
    got = store.read()
    assert len(got) == 4 and not got.duplicated(["signature", "instruction", "wallet"]).any()
    assert [p.stem for p in store.files()] == ["2021-09", "2024-12"]  # one file a month
    pd.testing.assert_frame_equal(got, swaps_frame(real_swaps))


def test_load_filters_by_wallet_token_and_time(tmp_path, real_swaps):
    SwapStore(tmp_path).write(real_swaps)
    d7 = "D7XYERWodEGaoN2X855T2qLvse28BSjfkvfCyW2EDBWy"
    df = ql.data.load("solana", wallets=[d7], root=tmp_path)
    assert set(df["wallet"]) == {d7} and len(df) == 2
    usdc = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    assert len(ql.data.load("solana", token=usdc, root=tmp_path)) == 2
    assert len(ql.data.load("solana", start="2024-01-01", root=tmp_path)) == 2
    assert ql.data.load("solana", wallets=["nobody"], root=tmp_path).empty


def test_load_embedded_market():
    df = ql.data.load("solana", seed=3, days=1.0)
    m = simulate(3, days=1.0)
    pd.testing.assert_frame_equal(df, m.swaps)
    with pytest.raises(ConfigError, match="seed"):
        ql.data.load("solana", days=1.0)


def test_validation_names_row_column_and_rule(real_swaps):
    df = swaps_frame(real_swaps)
    bad = df.copy()
    bad.loc[2, "amount_in"] = -1.0
    with pytest.raises(DataError, match=r"'amount_in'.*finite and > 0.*row 2"):
        swaps_frame(bad[list(df.columns[:10])])
    dup = pd.concat([df, df.iloc[[0]]], ignore_index=True).sort_values("time", kind="stable")
    with pytest.raises(DataError, match="each swap once"):
        ql.data.solana.validate_swaps(dup.reset_index(drop=True))
    nan_time = df.copy()
    nan_time["time"] = nan_time["time"].astype(object)
    nan_time.loc[1, "time"] = None
    with pytest.raises(DataError, match="'time'"):
        swaps_frame(nan_time[list(df.columns[:10])])
    # a price in SOL exists exactly where one leg is SOL (serum-3 is USDC -> SRM)
    assert (np.isfinite(df["price"]) == (df["side"] != 0)).all() and (df["side"] == 0).sum() == 1
