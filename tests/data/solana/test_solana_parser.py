"""The swap parser on every real transaction of the shared fixtures.

Expected values were read off each transaction by hand (pre/post token balances paired by
account and mint, lamport changes, fee, rent of accounts created or closed, which token
accounts the instructions give to whom), not produced by the parser. Notes per case:

- orca-ok: the signer sells 0.001 SRM (account 3 -1000, 6 decimals; owner from the
  ``approve``) for 364885 lamports (+349885 + 15000 fee; the temporary wSOL account is
  created and closed in the transaction). The shared README's "0.1 SOL -> 14.198095
  USDC" is serum-1's swap, not this one's.
- serum-1: -125412040 lamports + 15000 fee + 2039280 (new USDC account) + 23357760 (new
  open-orders account) = -0.1 SOL; USDC account +14198095 -> 14.198095 USDC.
- serum-2 (transitive): BTC 0.001 -> ETH 0.013, USDC is the middle leg (the 238744
  left over is dust returned to the wallet's USDC account).
- orca-transitive: 999999 lamports -> 0.088808 of xxxxa1sK via USDC (907 dust).
- p2p-orca: the trader is signer 9zRn..., not the fee payer (a fee relayer).
- pump.fun/raydium: SOL legs include priority tips paid by the wallet, net of the
  network fee and the rent of its new token account.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from quantlab.data.solana import SOL_MINT, parse_swaps, swaps_frame
from quantlab.errors import DataError

USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
SRM = "SRMuApVNdxXokk5GT7XD5cUUgXMBCoAz2LHeuAoKWRt"

# file -> (wallet prefix, program, instruction, mint_in, amount_in, mint_out, amount_out, fee)
SWAPS = {
    "solana_txs_orca_serum/trx-swap-orca-ok.json": (
        "3h1zGmCw", "orca", 3, SRM, 0.001, SOL_MINT, 0.000364885, 0.000015,
    ),
    "solana_txs_orca_serum/trx-swap-serum-1.json": (
        "D7XYERWo", "serum", 5, SOL_MINT, 0.1, USDC, 14.198095, 0.000015,
    ),
    "solana_txs_orca_serum/trx-swap-serum-2.json": (
        "DzrpNNxx", "serum", 0, "9n4nbM75f5Ui33ZbPYXn59EwSgE8CGsHtAeTH5YFeJ9E", 0.001,
        "2FPyTwcZLUg1MDrwsyoP4D6s1tM7hAkHYRjkNb5w6Pxk", 0.013, 0.000005,
    ),
    "solana_txs_orca_serum/trx-swap-serum-3.json": (
        "D7XYERWo", "serum", 2, USDC, 4.458287, SRM, 0.5, 0.00001,
    ),
    "solana_txs_orca_serum/trx-swap-serum-4.json": (
        "G8PrkEwm", "serum", 0, USDT, 2.0, USDC, 1.993604, 0.000005,
    ),
    "solana_txs_orca_serum/trx-swap-orca-transitive-ok.json": (
        "D7XYERWo", "orca", 3, SOL_MINT, 0.000999999,
        "xxxxa1sKNGwFtw2kFn8XauW9xq8hBZ5kVtcSesTT9fW", 0.088808, 0.00002,
    ),
    "solana_txs_orca_serum/trx-p2p-swap-orca-ok.json": (
        "9zRnk58y", "orca", 3, "7vfCXTUXx5WJV5JADk17DUJ4ksgau7utNKj4b963voxs", 0.00510069,
        SOL_MINT, 0.237472414, 0.0,
    ),
    "solana_txs_pumpfun_raydium/pumpfun_buy_rpc.json": (
        "Geu1Jtgp", "pumpfun", 3, SOL_MINT, 0.703581261,
        "9Tpa8ewVT3JaZgiSKoTHjcJj6NGRyF4bJT8CyXpxpump", 3254684.009577, 0.003005,
    ),
    "solana_txs_pumpfun_raydium/pumpfun_sell_rpc.json": (
        "4DdrfiDH", "pumpfun", 3, "CnNVDyM7", 592443959.0, SOL_MINT, 37.052911064, 0.0000365,
    ),
    "solana_txs_pumpfun_raydium/pumpfun_create_rpc.json": (
        "6xo262Kb", "pumpfun", 3, SOL_MINT, 1.03434952, "5dNYcCZX", 34612903.225806, 0.000525028,
    ),
    "solana_txs_pumpfun_raydium/raydium_amm_v4_rpc.json": (
        "CWE3HQZx", "raydium", 4, SOL_MINT, 2.02, "HhUVkZ1q", 92529.930455, 0.005005,
    ),
}  # fmt: skip

NOT_SWAPS = [
    "trx-close-account-ok.json",
    "trx-create-account-ok.json",
    "trx-create-bop-account.json",
    "trx-swap-orca-burn-liquidity.json",  # liquidity removal: LP in, two tokens out
    "trx-swap-orca-provide-liquidity.json",  # liquidity add: two tokens in, LP out
    "trx-swap-orca-error.json",  # failed (InstructionError)
    "trx-transfer-no-associated-account-ok.json",
    "trx-transfer-sol-ok.json",
    "trx-transfer-sol-p2p-ok.json",
    "trx-transfer-spl-native-wallet-ok.json",
    "trx-transfer-spl-to-sol-ok.json",
    "trx-transfer-spl-to-spl-ok.json",
    "trx-transfer-with-associated-account-ok.json",
]


def _load(fixtures_dir, name):
    return json.loads((fixtures_dir / name).read_text())


def test_every_fixture_is_covered(fixtures_dir):
    files = {
        p.relative_to(fixtures_dir).as_posix()
        for folder in ("solana_txs_orca_serum", "solana_txs_pumpfun_raydium")
        for p in (fixtures_dir / folder).glob("*.json")
    }
    covered = set(SWAPS) | {f"solana_txs_orca_serum/{n}" for n in NOT_SWAPS}
    geyser = {f for f in files if f.endswith("_geyser.json")}
    assert files - geyser == covered
    assert geyser == {f"solana_txs_pumpfun_raydium/{n}_geyser.json" for n in GEYSER}


GEYSER = ("pumpfun_buy", "raydium_amm_v4")


@pytest.mark.parametrize("name", GEYSER)
def test_geyser_form_gives_the_rpc_swap(fixtures_dir, name):
    folder = "solana_txs_pumpfun_raydium"
    rpc = parse_swaps(_load(fixtures_dir, f"{folder}/{name}_rpc.json"))
    geyser = parse_swaps(_load(fixtures_dir, f"{folder}/{name}_geyser.json"))
    assert len(rpc) == len(geyser) == 1
    assert geyser[0].time == 0  # Geyser updates carry no block time
    assert geyser[0] == dataclasses.replace(rpc[0], time=0)


@pytest.mark.parametrize("name", sorted(SWAPS))
def test_swap_fixture(fixtures_dir, name):
    wallet, program, ix, m_in, a_in, m_out, a_out, fee = SWAPS[name]
    swaps = parse_swaps(_load(fixtures_dir, name))
    assert len(swaps) == 1
    s = swaps[0]
    assert s.wallet.startswith(wallet)
    assert (s.program, s.instruction) == (program, ix)
    assert s.mint_in.startswith(m_in) and s.mint_out.startswith(m_out)
    assert s.amount_in == pytest.approx(a_in, rel=1e-12)
    assert s.amount_out == pytest.approx(a_out, rel=1e-12)
    assert s.fee == pytest.approx(fee, rel=1e-12)
    assert s.time > 1.6e9 and s.slot > 0 and len(s.signature) > 80


@pytest.mark.parametrize("name", NOT_SWAPS)
def test_non_swaps_yield_nothing(fixtures_dir, name):
    assert parse_swaps(_load(fixtures_dir, f"solana_txs_orca_serum/{name}")) == []


def test_balances_are_paired_by_account_and_mint_not_position(fixtures_dir):
    tx = _load(fixtures_dir, "solana_txs_orca_serum/trx-swap-serum-1.json")
    want = parse_swaps(tx)
    tx["meta"]["preTokenBalances"].reverse()
    tx["meta"]["postTokenBalances"] = [
        *tx["meta"]["postTokenBalances"][1:],
        tx["meta"]["postTokenBalances"][0],
    ]
    assert parse_swaps(tx) == want


def test_rpc_envelope_and_wallet_filter(fixtures_dir):
    tx = _load(fixtures_dir, "solana_txs_pumpfun_raydium/raydium_amm_v4_rpc.json")
    assert "result" in tx  # the whole JSON-RPC response
    assert len(parse_swaps(tx)) == 1
    assert parse_swaps(tx, wallets=["somebody-else"]) == []
    assert parse_swaps(None) == []


def test_swaps_to_frame(fixtures_dir):
    swaps = [s for name in SWAPS for s in parse_swaps(_load(fixtures_dir, name))]
    df = swaps_frame(swaps)
    assert len(df) == len(SWAPS) and df["time"].is_monotonic_increasing
    ray = df[df["program"] == "raydium"].iloc[0]
    assert ray["side"] == 1 and ray["sol"] == pytest.approx(2.02)
    assert ray["price"] == pytest.approx(2.02 / 92529.930455)


def test_bad_input_names_the_field():
    with pytest.raises(DataError, match="meta"):
        parse_swaps({"transaction": {}, "slot": 1})
    with pytest.raises(DataError, match="accountKeys"):
        parse_swaps({"transaction": {"message": {}}, "meta": {"err": None}})
    with pytest.raises(DataError, match="mapping"):
        parse_swaps(42)


def test_an_aggregator_labels_the_route(fixtures_dir):
    # the same Raydium swap with an aggregator instruction first (the compute-budget
    # program's key swapped for Jupiter's, so account indices stay put): Jupiter's swap
    tx = _load(fixtures_dir, "solana_txs_pumpfun_raydium/raydium_amm_v4_rpc.json")["result"]
    keys = tx["transaction"]["message"]["accountKeys"]
    assert keys[14] == "ComputeBudget111111111111111111111111111111"
    assert tx["transaction"]["message"]["instructions"][0]["programIdIndex"] == 14
    keys[14] = "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4"
    (s,) = parse_swaps(tx)
    assert (s.program, s.instruction) == ("jupiter", 0)
    assert s.amount_out == pytest.approx(92529.930455, rel=1e-12)
