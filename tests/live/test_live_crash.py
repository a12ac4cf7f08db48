"""The SIGKILL harness at a small count: 0 duplicates, 0 orphans, 0 differences."""

from __future__ import annotations

import pytest

pytest.importorskip("eth_account")


@pytest.mark.slow
def test_sigkill_harness_leaves_no_damage(tmp_path):
    from quantlab.live.crashtest import crash_test

    r = crash_test(4, seed=3, speed=1800.0, max_run_s=3.0, final_s=6.0, workdir=tmp_path)
    # every kill hits a live loop: a runner never dies by itself (restarts included)
    assert r["killed_while_running"] == r["kills"], r
    assert r["bars"] >= 3 and r["intents"] >= 1, r
    assert r["duplicates"] == 0, r
    assert r["orphans"] == 0, r
    assert r["differences"] == 0, r["difference_detail"]
