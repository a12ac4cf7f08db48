"""Order guards (weights, order cap, re-entry cooldown) and the mode / key switches."""

from __future__ import annotations

import os
import stat

import pytest

from quantlab.errors import ConfigError
from quantlab.execution.ratelimit import exchange_weight, info_weight
from quantlab.live.guards import OrderGuard
from quantlab.live.safety import Secret, check_mode, load_key

KEY = "0x" + "ab" * 32


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_exchange_weight_is_the_venue_formula():
    assert exchange_weight(1) == 1
    assert exchange_weight(39) == 1
    assert exchange_weight(40) == 2
    assert exchange_weight(81) == 3
    assert info_weight("clearinghouseState") == 2 and info_weight("userFills") == 20


def test_order_cap_per_market_minute():
    g = OrderGuard(max_orders_per_minute=3)
    t = 1_700_000_000_000
    assert all(g.check_rate("BTC", t) is None for _ in range(3))
    why = g.check_rate("BTC", t)
    assert why and "cap of 3" in why
    assert g.check_rate("ETH", t) is None  # per symbol
    assert g.check_rate("BTC", t + 60_000) is None  # a minute later


def test_reentry_cooldown_after_a_stop_same_direction_only():
    g = OrderGuard(reentry_cooldown_s=60)
    g.note_stop("BTC", +1, 1_000_000)
    assert "re-entry long" in g.check_entry("BTC", +1, 1_030_000)
    assert g.check_entry("BTC", -1, 1_030_000) is None
    assert g.check_entry("BTC", +1, 1_060_000) is None
    assert g.check_entry("ETH", +1, 1_030_000) is None


def test_mainnet_needs_both_switches():
    assert check_mode("paper", env={}) == "paper"
    with pytest.raises(ConfigError, match="QUANTLAB_LIVE_ENABLE"):
        check_mode("mainnet", confirm_mainnet=True, env={})
    with pytest.raises(ConfigError, match="--confirm-mainnet"):
        check_mode("mainnet", env={"QUANTLAB_LIVE_ENABLE": "1"})
    assert check_mode("mainnet", confirm_mainnet=True, env={"QUANTLAB_LIVE_ENABLE": "1"})
    with pytest.raises(ConfigError, match="not one of"):
        check_mode("yolo", env={})


def test_key_from_env_never_shown():
    key = load_key("testnet", env={"QUANTLAB_HL_KEY": KEY})
    assert isinstance(key, Secret) and key.reveal() == KEY
    assert KEY not in repr(key) and KEY not in str(key) and "ab" * 8 not in f"{key}"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(key)
    assert load_key("paper", env={"QUANTLAB_HL_KEY": KEY}) is None
    assert load_key("sim", env={}) is None
    with pytest.raises(ConfigError, match="no key"):
        load_key("testnet", env={})
    with pytest.raises(ConfigError, match="32 bytes") as err:
        load_key("testnet", env={"QUANTLAB_HL_KEY": "0xnothex"})
    assert "nothex" not in str(err.value)


def test_key_file_must_be_private_and_outside_the_repo(tmp_path):
    f = tmp_path / "hl.key"
    f.write_text(KEY + "\n")
    os.chmod(f, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_key("testnet", f, env={}, repo=tmp_path / "repo")
    os.chmod(f, stat.S_IRUSR | stat.S_IWUSR)
    assert load_key("testnet", f, env={}, repo=tmp_path / "repo").reveal() == KEY
    with pytest.raises(ConfigError, match="inside the repository"):
        load_key("testnet", f, env={}, repo=tmp_path)


def test_module_entry_runs_paper_and_sim_only(tmp_path, capsys):
    import json

    from quantlab.live.__main__ import main

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"strategy": "ma_cross", "mode": "testnet"}))
    assert main([str(spec)]) == 1
    assert "paper and sim only" in capsys.readouterr().err
    assert main([]) == 2
