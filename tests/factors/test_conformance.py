"""The factor contract, run over EVERY registered factor (like sklearn's estimator checks).

A factor added to the registry anywhere in ``quantlab.factors`` is picked up here
automatically. On top of ``ql.factors.check`` (see quantlab/factors/conformance.py) this
draws truncation points with hypothesis for the no-look-ahead property and compares the
jitted kernels with the plain-Python path (``NUMBA_DISABLE_JIT=1`` in a subprocess).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantlab as ql
from quantlab.factors import conformance

NAMES = ql.factors.names()
N_BARS = 400
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bars():
    return conformance.synthetic_bars(N_BARS, seed=11)


@pytest.mark.parametrize("check", list(conformance.CHECKS))
@pytest.mark.parametrize("name", NAMES)
def test_factor_conforms(name, check):
    # default parameters on frames long enough for the warm-up
    ql.factors.check(name, checks=[check])


@pytest.mark.parametrize("name", NAMES)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_look_ahead_at_random_truncations(name, bars, data):
    s = ql.factors.spec(name)
    full = s(bars).to_numpy()
    t = data.draw(st.integers(min_value=1, max_value=len(bars)), label="t")
    conformance.check_prefix_at(s, bars, t, full)


@pytest.mark.parametrize("name", NAMES)
def test_nan_policy_is_declared(name):
    assert ql.factors.spec(name).nan_policy in ("raise", "propagate")


_SCRIPT = """
import json, sys
import numpy as np
import quantlab as ql
from quantlab.factors import conformance
df = conformance.synthetic_bars(%d, seed=5)
out = {n: ql.factors.compute(n, df).tolist() for n in ql.factors.names()}
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def plain_python_values():
    """Every factor computed with NUMBA_DISABLE_JIT=1 on a fixed small frame."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT % 250],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", NAMES)
def test_jitted_equals_plain_python(name, plain_python_values):
    df = conformance.synthetic_bars(250, seed=5)
    jitted = ql.factors.compute(name, df).to_numpy()
    plain = np.array(plain_python_values[name], dtype=np.float64)
    # The same arithmetic, except that LLVM may fuse a*b+c (FMA) in the jitted kernels
    # that ask for it; that changes the last bits only.
    s = ql.factors.spec(name)
    conformance.assert_same(s, "jit", jitted, plain, "jitted vs NUMBA_DISABLE_JIT")
