"""``quantlab exchange-sim``: serves, funds, refuses bad arguments in one line."""

from __future__ import annotations

import pytest
from eth_account import Account

from quantlab.cli import main
from quantlab.cli.exchange import parse_fund
from quantlab.errors import ConfigError


def test_exchange_sim_runs_and_stops(capsys):
    addr = Account.create().address
    rc = main(["exchange-sim", "--port", "0", "--seed", "3", "--fund", f"{addr}=2500",
               "--speed", "3600", "--faults", "429:1", "--duration", "0.2"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    assert "http://127.0.0.1:" in out and f"{addr}=2500" in out and "429:1" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fund", "0x12=5"], "ADDRESS=USDC"),
        (["--fund", "0x" + "1" * 40 + "=abc"], "not a number"),
        (["--faults", "boom:1"], "unknown kind"),
    ],
)
def test_exchange_sim_bad_arguments(capsys, args, message):
    rc = main(["exchange-sim", "--port", "0", "--duration", "0", *args])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and err.count("\n") == 1


def test_parse_fund():
    a = "0x" + "ab" * 20
    assert parse_fund([f"{a}=10", f"{a}=20.5"]) == {a: 20.5}
    with pytest.raises(ConfigError):
        parse_fund([f"{a}=-1"])
