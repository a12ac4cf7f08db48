"""Checks shared by the state-space model tests (Kalman, IMM, RBPF).

``assert_streaming_matches_batch``: a live model stepped with ``update`` reproduces the
batch ``filter`` exactly; ``assert_update_continues_filter``: ``update`` after
``filter(z[:cut])`` carries on where the batch run would; ``assert_prefix``: the filter on
``z[:t]`` is the filter on ``z`` truncated at ``t`` (no look-ahead). Results with regime
probabilities (``mu``) are checked on those too.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def assert_streaming_matches_batch(live: Any, res: Any, z: np.ndarray, start: int = 0) -> None:
    """Assert ``live.update(z[t])`` gives ``res`` (the batch filter over ``z``) for t >= start."""
    for t in range(start, len(z)):
        step = live.update(z[t])
        np.testing.assert_array_equal(step.x, res.x[t])
        np.testing.assert_array_equal(step.P, res.P[t])
        if hasattr(res, "mu"):
            np.testing.assert_array_equal(step.mu, res.mu[t])
        assert step.loglik == res.loglik_t[t]


def assert_update_continues_filter(model: Any, res: Any, z: np.ndarray, cut: int) -> None:
    """Assert that after ``model.filter(z[:cut])`` the live state and updates follow ``res``."""
    model.filter(z[:cut])
    np.testing.assert_array_equal(model.x_, res.x[cut - 1])
    np.testing.assert_array_equal(model.P_, res.P[cut - 1])
    assert_streaming_matches_batch(model, res, z, start=cut)


def assert_prefix(part: Any, full: Any, t: int) -> None:
    """Assert the filter result ``part`` on ``z[:t]`` equals ``full`` (on ``z``) cut at ``t``."""
    fields = ("x", "P", "loglik_t", "mu") if hasattr(full, "mu") else ("x", "P", "loglik_t")
    for name in fields:
        np.testing.assert_array_equal(getattr(part, name), getattr(full, name)[:t], err_msg=name)
