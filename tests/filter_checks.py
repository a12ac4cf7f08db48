"""Checks shared by the state-space model tests (Kalman, IMM, RBPF).

``assert_streaming_matches_batch``: a live model stepped with ``update`` reproduces the
batch ``filter`` exactly; ``assert_prefix``: the filter on ``z[:t]`` is the filter on ``z``
truncated at ``t`` (no look-ahead). Results with regime probabilities (``mu``) are checked
on those too.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def assert_streaming_matches_batch(live: Any, res: Any, z: np.ndarray) -> None:
    """Assert ``live.update(z[t])`` gives ``res`` (the batch filter over ``z``) at every t."""
    for t in range(len(z)):
        step = live.update(z[t])
        np.testing.assert_array_equal(step.x, res.x[t])
        np.testing.assert_array_equal(step.P, res.P[t])
        if hasattr(res, "mu"):
            np.testing.assert_array_equal(step.mu, res.mu[t])
        assert step.loglik == res.loglik_t[t]


def assert_prefix(part: Any, full: Any, t: int) -> None:
    """Assert the filter result ``part`` on ``z[:t]`` equals ``full`` (on ``z``) cut at ``t``."""
    fields = ("x", "P", "loglik_t", "mu") if hasattr(full, "mu") else ("x", "P", "loglik_t")
    for name in fields:
        np.testing.assert_array_equal(getattr(part, name), getattr(full, name)[:t], err_msg=name)
