"""The factor registry API: names, spec, compute, compute_many, register, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import random_bars

import quantlab as ql
from quantlab.factors import FactorSpec, Role, register, window
from quantlab.factors.conformance import ConformanceError

CLASSIC = [
    "adx",
    "atr",
    "bb_z",
    "cci",
    "ema",
    "kama",
    "macd_hist",
    "mfi",
    "natr",
    "obv",
    "rsi",
    "sma",
    "stddev",
]


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return random_bars(600, seed=3, every_column=True)


@pytest.fixture
def temp_factor():
    """Register throw-away factors and unregister them afterwards."""
    made: list[str] = []

    def _register(cls, **kw):
        cls = register(cls, **kw)
        made.append(cls.name)
        return cls

    yield _register
    for name in made:
        if name in ql.factors.names():
            ql.factors.unregister(name)


def test_names_lists_the_classic_factors():
    names = ql.factors.names()
    assert set(CLASSIC) <= set(names)
    assert names == sorted(names)
    assert "atr" in ql.factors.names(role="filter")
    assert "atr" not in ql.factors.names(role=Role.PRIMARY)
    with pytest.raises(ql.ConfigError, match="unknown role"):
        ql.factors.names(role="leader")


def test_spec_shows_parameters_inputs_warmup_role_description():
    s = ql.factors.spec("rsi")
    assert s.window == 14 and s.inputs == ("close",) and s.warmup() == 14
    assert s.role is Role.CONFIRMATION and "relative strength" in s.description
    p = s.parameters()["window"]
    assert (p.type, p.default, p.ge) == (int, 14, 2)
    assert ql.factors.spec("rsi", window=21).warmup() == 21
    m = ql.factors.spec("macd_hist").summary()
    assert m["params"] == {"fast": 12, "slow": 26, "signal": 9} and m["warmup"] == 33
    assert m["recursive"] is True and ql.factors.spec("sma").summary()["recursive"] is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.window = 3  # type: ignore[misc]


def test_compute_returns_a_named_float_series_on_the_index(df):
    out = ql.factors.compute("ema", df, window=10)
    assert isinstance(out, pd.Series) and out.name == "ema" and out.dtype == np.float64
    assert out.index.equals(df.index)
    assert out.iloc[:9].isna().all() and out.iloc[9:].notna().all()
    # numpy integers are accepted and coerced
    assert out.equals(ql.factors.compute("ema", df, window=np.int64(10)))
    np.testing.assert_allclose(out.iloc[9], df["close"].iloc[:10].mean(), rtol=1e-15)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("rsi", {"window": 0}, "'window' must be >= 2, got 0"),
        ("sma", {"window": -3}, "'window' must be >= 1, got -3"),
        ("sma", {"window": 2.5}, "'window' must be an int, got float"),
        ("sma", {"window": True}, "'window' must be an int, got bool"),
        ("sma", {"window": "20"}, "'window' must be an int, got str"),
        ("sma", {"windw": 20}, "has no parameter 'windw'"),
        ("macd_hist", {"fast": 30}, "fast \\(30\\) must be smaller than slow \\(26\\)"),
        ("rsii", {}, "unknown factor 'rsii'; did you mean \\['rsi'\\]"),
    ],
)
def test_bad_names_and_parameters_raise_config_error(df, name, params, match):
    with pytest.raises(ql.ConfigError, match=match):
        ql.factors.compute(name, df, **params)


def test_missing_input_column_names_the_column_and_factor(df):
    with pytest.raises(ql.ConfigError, match="factor 'mfi' needs input column 'volume'"):
        ql.factors.compute("mfi", df.drop(columns="volume"))
    with pytest.raises(ql.ConfigError, match="pandas DataFrame"):
        ql.factors.compute("sma", df["close"])


def test_nan_input_raises_data_error_naming_the_first_bad_row(df):
    bad = df.copy()
    bad.iloc[[40, 70], bad.columns.get_loc("high")] = np.nan
    with pytest.raises(ql.DataError, match=r"column 'high' .* at row 40 \(2024-01-02 16:00"):
        ql.factors.compute("atr", bad)
    # a factor that does not read 'high' is unaffected
    assert ql.factors.compute("sma", bad).notna().sum() == len(bad) - 19


def test_compute_many_defaults_to_every_factor(df):
    out = ql.factors.compute_many(df)
    assert list(out.columns) == ql.factors.names()
    assert out.index.equals(df.index)
    assert (out.dtypes == np.float64).all()
    for name in CLASSIC:
        assert out[name].equals(ql.factors.compute(name, df))


def test_compute_many_takes_names_and_params(df):
    out = ql.factors.compute_many(df, ["rsi", "sma"], {"rsi": {"window": 5}})
    assert list(out.columns) == ["rsi", "sma"]
    assert out["rsi"].equals(ql.factors.compute("rsi", df, window=5))
    with pytest.raises(ql.ConfigError, match="params given for factor 'atr'"):
        ql.factors.compute_many(df, ["rsi"], {"atr": {"window": 5}})
    with pytest.raises(ql.ConfigError, match="listed twice"):
        ql.factors.compute_many(df, ["rsi", "rsi"])
    with pytest.raises(ql.ConfigError, match="'window' must be >= 2"):
        ql.factors.compute_many(df, ["rsi"], {"rsi": {"window": 1}})


def test_empty_frame_gives_empty_series(df):
    out = ql.factors.compute("adx", df.iloc[:0])
    assert len(out) == 0 and out.dtype == np.float64


class _HighLowMean(FactorSpec):
    name = "test_hl_mean"
    inputs = ("high", "low")
    role = Role.FILTER
    description = "Mean of high minus low (test factor)."
    window: int = window(5)

    def warmup(self) -> int:
        return self.window - 1

    def compute(self, high, low):
        return ql.kernels.ta.sma_nb(high - low, self.window)


def test_user_factor_registers_with_one_decorator_and_passes_check(df, temp_factor):
    cls = temp_factor(_HighLowMean)
    assert dataclasses.is_dataclass(cls) and "test_hl_mean" in ql.factors.names()
    out = ql.factors.compute("test_hl_mean", df, window=3)
    np.testing.assert_allclose(
        out.to_numpy()[2:], (df.high - df.low).rolling(3).mean().to_numpy()[2:], rtol=1e-12
    )
    ql.factors.check("test_hl_mean")
    with pytest.raises(ql.ConfigError, match="'window' must be >= 1, got 0"):
        ql.factors.compute("test_hl_mean", df, window=0)


def test_registry_refuses_duplicates_unless_replace(temp_factor):
    with pytest.raises(ql.ConfigError, match="'rsi' is already registered"):

        @register
        class Again(FactorSpec):
            name = "rsi"
            description = "A second rsi."

            def compute(self, close):
                return close

    temp_factor(_HighLowMean)

    class Other(_HighLowMean):
        description = "Replacement."

    assert temp_factor(Other, replace=True) is ql.factors.get("test_hl_mean")


@pytest.mark.parametrize(
    ("attrs", "match"),
    [
        ({"name": "Bad Name"}, "lower-case identifier"),
        ({"description": ""}, "one non-empty line"),
        ({"inputs": "close"}, "non-empty tuple"),
        ({"role": "primary"}, "must be a quantlab.factors.Role"),
        ({"nan_policy": "ignore"}, "nan_policy"),
    ],
)
def test_register_checks_the_metadata(attrs, match):
    body = {
        "name": "test_meta",
        "description": "d",
        "compute": lambda self, close: close,
        **attrs,
    }
    with pytest.raises(ql.ConfigError, match=match):
        register(type("Meta", (FactorSpec,), body))


def test_register_refuses_untyped_or_invalid_defaults():
    with pytest.raises(ql.ConfigError, match="annotated int, float, bool or str"):
        register(
            type(
                "L",
                (FactorSpec,),
                {
                    "__annotations__": {"w": "list"},
                    "w": dataclasses.field(default_factory=list),
                    "name": "test_l",
                    "description": "d",
                    "compute": lambda self, c: c,
                },
            )
        )
    with pytest.raises(ql.ConfigError, match="default parameters are invalid"):
        register(
            type(
                "Z",
                (FactorSpec,),
                {
                    "__annotations__": {"window": int},
                    "window": 0,
                    "name": "test_z",
                    "description": "d",
                    "compute": lambda self, c: c,
                },
            )
        )


def test_check_catches_look_ahead_and_a_wrong_warmup(temp_factor):
    class Peek(_HighLowMean):
        name = "test_peek"

        def compute(self, high, low):
            out = super().compute(high, low)
            out[:-1] = out[1:].copy()  # tomorrow's value today
            if len(out) >= self.window - 1:
                out[self.window - 2] = np.nan
            return out

    temp_factor(Peek)
    with pytest.raises(ConformanceError, match="'test_peek' fails check 'prefix'"):
        ql.factors.check("test_peek")

    class Late(_HighLowMean):
        name = "test_late"

        def warmup(self) -> int:
            return self.window

    temp_factor(Late)
    with pytest.raises(ConformanceError, match="'test_late' fails check 'warmup'"):
        ql.factors.check("test_late")

    class Blind(_HighLowMean):
        name = "test_blind"

        def compute(self, high, low):
            return np.nan_to_num(super().compute(high, low), nan=0.0)

    temp_factor(Blind)
    with pytest.raises(ConformanceError, match="fails check 'warmup'"):
        ql.factors.check("test_blind")

    class Crash(_HighLowMean):
        name = "test_crash"

        def compute(self, high, low):
            return np.full(len(high), 1.0) if len(high) > 9 else high[10:]

    temp_factor(Crash)
    with pytest.raises(ConformanceError, match="'test_crash' fails check"):
        ql.factors.check("test_crash")


def test_model_factors_register_through_the_declared_hook():
    # the model-backed factors register in one place, quantlab/models/factors.py (a
    # downward import the layering test sees); the factor registry imports the packages in
    # CONTRIBUTING_PACKAGES on its first lookup, whatever the user imported first
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from quantlab.factors import research, registry\n"
        "assert 'quantlab.models' not in sys.modules\n"
        "names = registry.names()\n"
        "assert 'quantlab.models.factors' in sys.modules\n"
        "assert 'garch_vol' in names and 'kalman_velocity' in names, names\n"
        "assert registry.get('garch_vol').__module__ == 'quantlab.models.factors'\n"
        "assert 'rsi' in names\n"
        "print(len(names))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 36


def test_every_factor_is_registered_from_a_declared_place():
    # built-ins come from BUILTIN_MODULES, model-backed ones from CONTRIBUTING_PACKAGES;
    # a factor module missing from the list would silently lose its factors
    import pathlib
    import pkgutil

    from quantlab.factors import registry

    declared = set(registry.BUILTIN_MODULES)
    pkg = pathlib.Path(registry.__file__).parent
    for info in pkgutil.iter_modules([str(pkg)]):
        text = (pkg / f"{info.name}.py").read_text()
        if "@register" in text and info.name != "registry":
            assert f"quantlab.factors.{info.name}" in declared, info.name
    for name in ql.factors.names():
        module = ql.factors.get(name).__module__
        assert module in declared or any(
            module.startswith(p + ".") for p in registry.CONTRIBUTING_PACKAGES
        ), (name, module)


def test_factor_plugins_by_entry_point(monkeypatch, temp_factor):
    """A third-party package contributes a FactorSpec class (or a module) by entry point."""
    import importlib.metadata

    from quantlab.factors import registry

    class Plug(FactorSpec):
        name = "test_plugin_range"
        inputs = ("high", "low")
        description = "High minus low (a plug-in)."

        def compute(self, high, low):
            return high - low

    class EP:
        name, value = "my_range", "my_pkg.factors:Plug"

        def load(self):
            return Plug

    class BadEP:
        name, value = "bad", "my_pkg.factors:not_a_factor"

        def load(self):
            return 42

    group_eps = [EP()]
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda *, group=None: list(group_eps) if group == registry.ENTRY_POINT_GROUP else [],
    )
    ql.factors.names()  # the library is loaded; now read the group again
    monkeypatch.setattr(registry._FACTORS, "_plugins_loaded", False)
    names = ql.factors.names()
    temp_factor(Plug)  # unregistered after the test
    assert "test_plugin_range" in names and "rsi" in names and "garch_vol" in names
    assert "my_range" not in names  # registered under the class's own name
    bars = random_bars(50, seed=1)
    out = ql.factors.compute("test_plugin_range", bars)
    np.testing.assert_array_equal(out.to_numpy(), (bars.high - bars.low).to_numpy())

    group_eps[:] = [BadEP()]
    monkeypatch.setattr(registry._FACTORS, "_plugins_loaded", False)
    with pytest.raises(ql.ConfigError, match=r"factor plug-in 'bad' .* must name a FactorSpec"):
        ql.factors.names()
    group_eps.clear()
    assert "rsi" in ql.factors.names()


def test_unsorted_or_duplicated_index_names_the_first_offending_row(df):
    # #15: factors run on bar positions, so bars must be in time order, each once
    shuffled = df.iloc[[0, 1, 2, 4, 3, 5]]
    with pytest.raises(
        ql.DataError, match=r"row 4 \(2024-01-01 03:00:00\+00:00\) comes before row 3"
    ):
        ql.factors.compute("sma", shuffled, window=2)
    dup = pd.concat([df.iloc[:3], df.iloc[2:5]])
    with pytest.raises(ql.DataError, match=r"row 3 \(2024-01-01 02:00:00\+00:00\) repeats row 2"):
        ql.factors.compute_many(dup, ["sma", "rsi"])
    ok = ql.factors.compute("sma", df.reset_index(drop=True), window=3)  # a RangeIndex
    np.testing.assert_array_equal(ok.to_numpy(), ql.factors.compute("sma", df, window=3).to_numpy())


def test_float64_inputs_are_read_without_a_copy(df, monkeypatch):
    from quantlab.factors import registry

    seen = []
    real = registry._first_nonfinite

    def spy(arr):
        seen.append(arr)
        return real(arr)

    monkeypatch.setattr(registry, "_first_nonfinite", spy)
    ql.factors.compute("mfi", df)  # no fused check: the columns are scanned first
    assert len(seen) == 4
    for arr, col in zip(seen, ("high", "low", "close", "volume"), strict=True):
        assert np.shares_memory(arr, df[col].to_numpy())
    # other dtypes are converted (and checked) as before
    as32 = df.astype({"close": np.float32})
    np.testing.assert_allclose(
        ql.factors.compute("sma", as32, window=5).to_numpy(),
        ql.factors.compute(
            "sma", df.astype({"close": np.float32}).astype({"close": np.float64}), window=5
        ).to_numpy(),
    )


@pytest.mark.parametrize("name", ["atr", "natr", "adx", "obv"])
def test_fused_input_check_equals_the_separate_check(df, name):
    from quantlab.factors import registry
    from quantlab.kernels import ta

    s = ql.factors.spec(name)
    assert registry._fused_check(s)
    arrays = [df[k].to_numpy() for k in s.inputs]
    out, first = s.compute_checked(*arrays)
    np.testing.assert_array_equal(out, s.compute(*arrays))  # bit-identical
    assert first == -1
    kernel = getattr(ta, f"{name}_nb")
    args = (*arrays, 14) if name != "obv" else tuple(arrays)
    np.testing.assert_array_equal(ql.factors.compute(name, df).to_numpy(), kernel(*args))
    cases = [("low", 40, np.nan), ("close", 7, -np.inf), ("high", 599, np.inf)]
    if name == "obv":
        cases = [("volume", 40, np.nan), ("close", 7, -np.inf), ("close", 599, np.inf)]
    for col, row, bad in cases:
        broken = df.copy()
        broken.iloc[row, broken.columns.get_loc(col)] = bad
        assert s.compute_checked(*(broken[k].to_numpy() for k in s.inputs))[1] == row
        with pytest.raises(
            ql.DataError, match=rf"column '{col}' has a non-finite value .* at row {row} "
        ):
            ql.factors.compute(name, broken)
    # two bad columns: the first input column in order is named, as by the separate check
    first_col, other = s.inputs[0], s.inputs[-1]
    broken = df.copy()
    broken.iloc[50, broken.columns.get_loc(other)] = np.nan
    broken.iloc[60, broken.columns.get_loc(first_col)] = np.nan
    with pytest.raises(ql.DataError, match=rf"column '{first_col}' .* at row 60"):
        ql.factors.compute(name, broken)
