"""The embedded synthetic market: seeded, deterministic bars with known regimes.

``simulate`` runs a small market whose parameters mean something physical and returns
valid bars together with the truth behind them (regime labels, order flow, premium), so
that models can be scored on recovering it. ``synthetic_bars`` is what
``ql.data.load("synthetic", ...)`` calls.

The model
---------
Time runs on a grid of one-minute sub-steps (for intervals that are whole minutes; the
grid is ``gcd(interval, 60 s)`` otherwise); a bar aggregates the sub-steps it spans, so
1h bars are exactly the resample of the 1m bars of the same seed and start, and every
interval from 1m to 1w shows the same dynamics. Everything time-dependent is specified
per hour and converted to the sub-step.

- **Regimes.** A Markov chain over ``REGIME_NAMES`` (trending_up, trending_down,
  mean_reverting, turbulent) that may switch at every UTC hour boundary, with the hourly
  transition matrix ``regime_transition``; the first regime is drawn from its stationary
  distribution. Each symbol runs its own chain. A bar's label is the regime in force for
  most of the bar.
- **Order flow.** Buys and sells arrive as two self-exciting (Hawkes) processes with an
  exponential kernel: baseline ``hawkes_baseline * activity[r] * (1 +/- imbalance[r])``
  trades per hour, branching ratio ``hawkes_branching`` (each trade triggers that many
  further trades on average), decay ``hawkes_decay`` per hour.
- **Price.** The log-price moves by ``impact`` per net trade that the Hawkes echo of
  past trades did not predict, plus the regime drift, a diffusion of the regime
  volatility, and (where ``mean_reversion[r] > 0``) an Ornstein-Uhlenbeck pull towards
  the price at which the regime began. Only unanticipated flow moves the price, so
  returns are martingale differences around the drift: volatility scales with the
  square root of time and is the same, per hour, at every interval. High and low come
  from a Brownian bridge inside each sub-step.
- **Perp premium and funding.** The premium index (perp mark over the index) is an AR(1)
  pulled to ``premium_mean`` with hourly persistence ``premium_persistence`` and pushed
  by ``premium_flow`` per net trade plus noise. Funding follows Hyperliquid:
  ``F = P + clamp(r - P, -0.0005, 0.0005)`` per 8 hours with ``r = 0.0001`` (0.01 % per
  8h), paid hourly at ``F / 8``, capped at 4 % per hour. ``funding_rate`` is that
  per-hour rate averaged over the bar.
- **Several symbols.** Each symbol has its own regime chain; the normal shocks that drive
  its buys, sells and diffusion are equicorrelated across symbols with ``correlation``.

Determinism: the random numbers of symbol ``s`` come from
``numpy.random.SeedSequence(seed, spawn_key=(crc32(s), stream))``, drawn in time order,
so the same ``(seed, symbol, start, interval)`` gives the identical frame in any process
and ``n`` bars are exactly the first ``n`` of a longer run. (With ``correlation != 0``
a symbol's path also depends on the other symbols simulated with it.)
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from quantlab.data.intervals import interval_seconds, to_utc
from quantlab.errors import ConfigError
from quantlab.kernels import market as mk

REGIME_NAMES: tuple[str, ...] = ("trending_up", "trending_down", "mean_reverting", "turbulent")
N_REGIMES = len(REGIME_NAMES)

#: Starting prices of well-known symbols; anything else starts at ``DEFAULT_BASE_PRICE``.
BASE_PRICES: dict[str, float] = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0}
DEFAULT_BASE_PRICE = 100.0
DEFAULT_START = "2024-01-01"
DEFAULT_DAYS = 90

_CHUNK_SUBSTEPS = 1 << 18
_ROW_SUM_TOL = 1e-9

PerRegime = tuple[float, float, float, float]


def _default_transition() -> tuple[PerRegime, ...]:
    return (
        (0.980, 0.004, 0.010, 0.006),  # trending_up: ~50 h
        (0.004, 0.980, 0.010, 0.006),  # trending_down: ~50 h
        (0.004, 0.004, 0.990, 0.002),  # mean_reverting: ~100 h
        (0.010, 0.010, 0.020, 0.960),  # turbulent: ~25 h
    )


@dataclass(frozen=True)
class MarketParams:
    """Parameters of the synthetic market, each with a physical meaning.

    Per-regime fields take four values in ``REGIME_NAMES`` order, or a mapping from
    regime name to value that overrides only the regimes it names. Rates are per hour;
    they are converted to the one-minute sub-step, so any bar interval gives the same
    dynamics.

    Parameters
    ----------
    regime_transition : 4x4 nested sequence
        ``P[i][j]``: probability that regime ``i`` is followed by ``j`` one hour later.
        Rows sum to 1. Expected duration of regime ``i`` is ``1 / (1 - P[i][i])`` hours
        (default 50, 50, 100 and 25 hours).
    drift : per regime
        Exogenous log drift per hour (e.g. 0.0002 = 0.02 %/h), on top of the drift that
        the flow imbalance causes (see :meth:`hourly_drift`).
    volatility : per regime, > 0
        Diffusive log-return volatility per square-root hour, on top of the flow's
        contribution (see :meth:`hourly_volatility`: ~0.6 % calm, ~3 % turbulent).
    mean_reversion : per regime, >= 0
        Ornstein-Uhlenbeck speed ``kappa`` per hour of the pull towards the log-price at
        which the regime began (half-life ``ln 2 / kappa`` hours; default 7 h in
        mean_reverting, none elsewhere).
    activity : per regime, > 0
        Multiplier of the Hawkes baseline (turbulent markets trade more).
    imbalance : per regime, in (-1, 1)
        Buy/sell asymmetry of the baselines: buys ``(1 + imbalance)``, sells
        ``(1 - imbalance)``. Positive in trending_up (informed buying), negative in
        trending_down.
    hawkes_baseline : float, > 0
        Exogenous arrival rate of trades on each side, trades per hour.
    hawkes_branching : float, in [0, 1)
        Branching ratio ``n``: the mean number of trades each trade triggers. Mean rate
        per side is ``baseline / (1 - n)``; counts are overdispersed,
        ``Var N_T / E N_T -> 1 / (1 - n)^2`` over long windows.
    hawkes_decay : float, > 0
        Decay rate ``beta`` of the excitation kernel per hour (memory ``1 / beta`` hours;
        default 20/h = 3 minutes).
    impact : float, >= 0
        Log-price change per unexpected net trade (buys minus sells beyond what the
        Hawkes echo predicted). 1.5e-4 makes flow alone ~0.5 %/h in calm regimes.
    trade_notional : float, > 0
        Quote-currency size of one trade; volume (base units) is
        ``trades * trade_notional / price``.
    premium_mean : float
        Long-run level of the perp premium index (fraction of the index price).
    premium_persistence : float, in (0, 1]
        Hourly AR(1) coefficient of the premium (0.9: half-life ~6.6 h).
    premium_flow : float, >= 0
        Premium added per net trade (order flow pushes the perp away from the index).
    premium_volatility : float, >= 0
        Diffusion of the premium per square-root hour (Ornstein-Uhlenbeck form).
    interest_rate : float
        Interest component of Hyperliquid's funding per 8 hours (0.0001 = 0.01 %/8h).
    funding_clamp : float, >= 0
        Clamp of ``interest_rate - premium`` per 8 hours (0.0005).
    funding_cap : float, > 0
        Cap of the absolute per-hour funding rate (0.04 = 4 %/h).
    initial_price : float or None
        Starting price; ``None`` uses ``BASE_PRICES`` (BTC 60000, ETH 3000, SOL 150,
        anything else 100).
    initial_regime : int, str or None
        Code (or name) of the first regime; ``None`` draws it from the stationary
        distribution, which then must be unique (an irreducible chain).

    Raises
    ------
    ConfigError
        Naming the field (and regime) whose value breaks its rule.
    """

    regime_transition: tuple[PerRegime, ...] = field(default_factory=_default_transition)
    drift: PerRegime = (0.0002, -0.0002, 0.0, 0.0)
    volatility: PerRegime = (0.004, 0.004, 0.004, 0.03)
    mean_reversion: PerRegime = (0.0, 0.0, 0.1, 0.0)
    activity: PerRegime = (1.0, 1.0, 0.8, 2.5)
    imbalance: PerRegime = (0.003, -0.003, 0.0, 0.0)
    hawkes_baseline: float = 300.0
    hawkes_branching: float = 0.5
    hawkes_decay: float = 20.0
    impact: float = 1.5e-4
    trade_notional: float = 10_000.0
    premium_mean: float = 0.0
    premium_persistence: float = 0.9
    premium_flow: float = 2e-6
    premium_volatility: float = 1e-4
    interest_rate: float = 0.0001
    funding_clamp: float = 0.0005
    funding_cap: float = 0.04
    initial_price: float | None = None
    initial_regime: int | str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "regime_transition", _transition(self.regime_transition))
        rules = {
            "drift": (None, None),
            "volatility": ("gt", 0.0),
            "mean_reversion": ("ge", 0.0),
            "activity": ("gt", 0.0),
            "imbalance": ("open", 1.0),
        }
        for name, rule in rules.items():
            set_(self, name, _per_regime(name, getattr(self, name), rule))
        set_(self, "hawkes_baseline", _scalar("hawkes_baseline", self.hawkes_baseline, gt=0))
        n = _scalar("hawkes_branching", self.hawkes_branching, ge=0)
        if n >= 1.0:
            raise ConfigError(
                f"MarketParams.hawkes_branching: must be < 1 for a stationary Hawkes "
                f"process (each trade triggering < 1 trade), got {n}"
            )
        set_(self, "hawkes_branching", n)
        set_(self, "hawkes_decay", _scalar("hawkes_decay", self.hawkes_decay, gt=0))
        set_(self, "impact", _scalar("impact", self.impact, ge=0))
        set_(self, "trade_notional", _scalar("trade_notional", self.trade_notional, gt=0))
        set_(self, "premium_mean", _scalar("premium_mean", self.premium_mean))
        phi = _scalar("premium_persistence", self.premium_persistence, gt=0)
        if phi > 1.0:
            raise ConfigError(
                f"MarketParams.premium_persistence: hourly AR(1) coefficient must be in "
                f"(0, 1], got {phi}"
            )
        set_(self, "premium_persistence", phi)
        set_(self, "premium_flow", _scalar("premium_flow", self.premium_flow, ge=0))
        set_(
            self,
            "premium_volatility",
            _scalar("premium_volatility", self.premium_volatility, ge=0),
        )
        set_(self, "interest_rate", _scalar("interest_rate", self.interest_rate))
        set_(self, "funding_clamp", _scalar("funding_clamp", self.funding_clamp, ge=0))
        set_(self, "funding_cap", _scalar("funding_cap", self.funding_cap, gt=0))
        if self.initial_price is not None:
            set_(self, "initial_price", _scalar("initial_price", self.initial_price, gt=0))
        if self.initial_regime is not None:
            code = self.initial_regime
            if isinstance(code, str) and code in REGIME_NAMES:
                code = REGIME_NAMES.index(code)
            if isinstance(code, bool) or not isinstance(code, int | np.integer):
                raise ConfigError(
                    f"MarketParams.initial_regime: expected a regime code 0..3 or a name in "
                    f"{REGIME_NAMES}, got {self.initial_regime!r}"
                )
            if not 0 <= int(code) < N_REGIMES:
                raise ConfigError(f"MarketParams.initial_regime: code must be in 0..3, got {code}")
            set_(self, "initial_regime", int(code))
        else:
            self.stationary_distribution()  # raises for a reducible chain

    # ------------------------------------------------------------------ construction

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Return the names of all parameters."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def coerce(cls, params: MarketParams | Mapping[str, Any] | None) -> MarketParams:
        """Return ``params`` as MarketParams: None gives the defaults, a mapping overrides them.

        Raises ConfigError for anything else (or a mapping :meth:`replace` refuses).
        """
        if params is None:
            return cls()
        if isinstance(params, MarketParams):
            return params
        if isinstance(params, Mapping):
            return cls().replace(**params)
        raise ConfigError(f"params: expected MarketParams, a mapping or None, got {params!r}")

    def replace(self, **overrides: Any) -> MarketParams:
        """Return a copy with some parameters changed (validated again).

        Raises
        ------
        ConfigError
            If a name is not a parameter (the message lists the valid ones) or a value
            breaks its rule.
        """
        unknown = sorted(set(overrides) - set(self.field_names()))
        if unknown:
            raise ConfigError(
                f"MarketParams: unknown parameter(s) {unknown}; valid: {list(self.field_names())}"
            )
        merged = {}
        for name, value in overrides.items():
            current = getattr(self, name)
            if (
                isinstance(value, Mapping)
                and isinstance(current, tuple)
                and name != "regime_transition"
            ):
                merged[name] = _merge_mapping(name, value, current)
            else:
                merged[name] = value
        return dataclasses.replace(self, **merged)

    # ------------------------------------------------------------- derived quantities

    def stationary_distribution(self) -> np.ndarray:
        """Return the stationary distribution of the regime chain (sums to 1).

        Raises
        ------
        ConfigError
            If the chain is reducible, so that the distribution is not unique.
        """
        p = np.asarray(self.regime_transition, dtype=np.float64)
        a = np.vstack([p.T - np.eye(N_REGIMES), np.ones(N_REGIMES)])
        if np.linalg.matrix_rank(a) < N_REGIMES:
            raise ConfigError(
                "MarketParams.regime_transition: the chain is reducible (not every regime "
                "reaches every other), so its stationary distribution is not unique; make "
                "it irreducible or set initial_regime"
            )
        b = np.zeros(N_REGIMES + 1)
        b[-1] = 1.0
        pi = np.linalg.lstsq(a, b, rcond=None)[0]
        pi = np.clip(pi, 0.0, None)
        return pi / pi.sum()

    def expected_durations(self) -> np.ndarray:
        """Return the expected duration of each regime in hours, ``1 / (1 - P_ii)``."""
        stay = np.diag(np.asarray(self.regime_transition, dtype=np.float64))
        with np.errstate(divide="ignore"):
            return np.where(stay < 1.0, 1.0 / (1.0 - stay), np.inf)

    def trade_rate(self) -> np.ndarray:
        """Return the expected trades per hour (both sides) in each regime.

        Notes
        -----
        ``2 * baseline * activity_r / (1 - n)``: a stationary Hawkes process with
        baseline ``mu`` and branching ratio ``n`` has mean intensity ``mu / (1 - n)``.
        """
        act = np.asarray(self.activity)
        return 2.0 * self.hawkes_baseline * act / (1.0 - self.hawkes_branching)

    def hourly_drift(self) -> np.ndarray:
        """Return the expected log-return per hour in each regime (mean reversion aside).

        Notes
        -----
        ``drift_r + impact * 2 * baseline * activity_r * imbalance_r``: the baseline
        imbalance is informed flow that the Hawkes echo does not predict.
        """
        act = np.asarray(self.activity)
        imb = np.asarray(self.imbalance)
        return np.asarray(self.drift) + self.impact * 2.0 * self.hawkes_baseline * act * imb

    def hourly_volatility(self) -> np.ndarray:
        """Return the volatility of hourly log-returns in each regime (mean reversion aside).

        Notes
        -----
        ``sqrt(volatility_r^2 + impact^2 * trade_rate_r)``: given the intensity, the
        unexpected net flow in a sub-step has variance equal to the expected number of
        trades (Poisson), so its variance per hour is the mean trade rate.
        """
        vol = np.asarray(self.volatility)
        return np.sqrt(vol**2 + self.impact**2 * self.trade_rate())

    def kernel_arrays(
        self, substep_hours: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(regime_params, trans_cum, init_cum, scalars)`` for the market kernel.

        Parameters
        ----------
        substep_hours : float
            Length of a sub-step in hours; an hour must be a whole number of sub-steps.
        """
        h = float(substep_hours)
        steps = round(1.0 / h)
        if steps < 1 or abs(steps * h - 1.0) > 1e-12:
            raise ConfigError(f"substep_hours: 1 hour must be a whole number of sub-steps, got {h}")
        n = self.hawkes_branching
        rp = np.empty((N_REGIMES, mk.N_REGIME_PARAMS))
        base = self.hawkes_baseline * np.asarray(self.activity) * h
        imb = np.asarray(self.imbalance)
        rp[:, mk.RP_DRIFT] = np.asarray(self.drift) * h
        rp[:, mk.RP_VOL] = np.asarray(self.volatility) * math.sqrt(h)
        rp[:, mk.RP_MR_DECAY] = np.exp(-np.asarray(self.mean_reversion) * h)
        rp[:, mk.RP_BASE_BUY] = base * (1.0 + imb)
        rp[:, mk.RP_BASE_SELL] = base * (1.0 - imb)
        trans_cum = np.cumsum(np.asarray(self.regime_transition, dtype=np.float64), axis=1)
        trans_cum[:, -1] = 1.0
        if self.initial_regime is None:
            init_cum = np.cumsum(self.stationary_distribution())
        else:
            init_cum = np.zeros(N_REGIMES)
            init_cum[self.initial_regime :] = 1.0
        init_cum[-1] = 1.0
        phi = self.premium_persistence
        theta = -math.log(phi)
        # OU variance accrued over h hours (random walk when phi = 1)
        noise_var = (1.0 - phi ** (2.0 * h)) / (2.0 * theta) if theta > 0.0 else h
        sc = np.empty(mk.N_SCALARS)
        decay = math.exp(-self.hawkes_decay * h)
        sc[mk.SC_HAWKES_DECAY] = decay
        sc[mk.SC_HAWKES_JUMP] = n * (1.0 - decay)
        sc[mk.SC_BRANCHING] = n
        sc[mk.SC_IMPACT] = self.impact
        sc[mk.SC_TRADE_NOTIONAL] = self.trade_notional
        sc[mk.SC_PREMIUM_MEAN] = self.premium_mean
        sc[mk.SC_PREMIUM_DECAY] = phi**h
        sc[mk.SC_PREMIUM_FLOW] = self.premium_flow
        sc[mk.SC_PREMIUM_NOISE] = self.premium_volatility * math.sqrt(noise_var)
        sc[mk.SC_INTEREST] = self.interest_rate
        sc[mk.SC_CLAMP] = self.funding_clamp
        sc[mk.SC_CAP] = self.funding_cap
        sc[mk.SC_PERIOD_HOURS] = 8.0
        sc[mk.SC_REGIME_STEPS] = float(steps)
        return rp, trans_cum, init_cum, sc


# ----------------------------------------------------------------------- validation


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"MarketParams.{name}: expected a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ConfigError(f"MarketParams.{name}: must be finite, got {out}")
    return out


def _scalar(name: str, value: Any, gt: float | None = None, ge: float | None = None) -> float:
    out = _float(name, value)
    if gt is not None and not out > gt:
        raise ConfigError(f"MarketParams.{name}: must be > {gt}, got {out}")
    if ge is not None and not out >= ge:
        raise ConfigError(f"MarketParams.{name}: must be >= {ge}, got {out}")
    return out


def _default_of(name: str) -> Any:
    for f in dataclasses.fields(MarketParams):
        if f.name == name:
            return f.default
    raise KeyError(name)  # pragma: no cover


def _merge_mapping(name: str, value: Mapping[Any, Any], base: Sequence[float]) -> list[float]:
    out = list(base)
    for key, v in value.items():
        if key not in REGIME_NAMES:
            raise ConfigError(
                f"MarketParams.{name}: unknown regime {key!r}; use one of {REGIME_NAMES}"
            )
        out[REGIME_NAMES.index(key)] = v
    return out


def _per_regime(name: str, value: Any, rule: tuple[str | None, float | None]) -> PerRegime:
    if isinstance(value, Mapping):
        value = _merge_mapping(name, value, _default_of(name))
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise ConfigError(
            f"MarketParams.{name}: expected {N_REGIMES} values (one per regime "
            f"{REGIME_NAMES}) or a mapping regime -> value, got {value!r}"
        )
    if len(value) != N_REGIMES:
        raise ConfigError(
            f"MarketParams.{name}: expected {N_REGIMES} values (one per regime "
            f"{REGIME_NAMES}), got {len(value)}"
        )
    out = []
    kind, bound = rule
    for regime, v in zip(REGIME_NAMES, value, strict=True):
        label = f"{name}[{regime}]"
        x = _float(label, v)
        if kind == "gt" and not x > bound:
            raise ConfigError(f"MarketParams.{label}: must be > {bound}, got {x}")
        if kind == "ge" and not x >= bound:
            raise ConfigError(f"MarketParams.{label}: must be >= {bound}, got {x}")
        if kind == "open" and not -bound < x < bound:
            raise ConfigError(f"MarketParams.{label}: must be in (-{bound}, {bound}), got {x}")
        out.append(x)
    return tuple(out)  # type: ignore[return-value]


def _transition(value: Any) -> tuple[PerRegime, ...]:
    name = "regime_transition"
    try:
        p = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(
            f"MarketParams.{name}: expected a {N_REGIMES}x{N_REGIMES} matrix of "
            f"probabilities, got {value!r}"
        ) from None
    if p.shape != (N_REGIMES, N_REGIMES):
        raise ConfigError(
            f"MarketParams.{name}: expected shape ({N_REGIMES}, {N_REGIMES}) (rows and "
            f"columns in the order {REGIME_NAMES}), got {p.shape}"
        )
    for i, j in np.ndindex(p.shape):
        x = p[i, j]
        if not (math.isfinite(x) and 0.0 <= x <= 1.0):
            raise ConfigError(
                f"MarketParams.{name}[{REGIME_NAMES[i]}][{REGIME_NAMES[j]}]: a probability "
                f"must be in [0, 1], got {x}"
            )
    for i in range(N_REGIMES):
        total = p[i].sum()
        if abs(total - 1.0) > _ROW_SUM_TOL:
            raise ConfigError(
                f"MarketParams.{name}[{REGIME_NAMES[i]}]: row must sum to 1, sums to {total!r}"
            )
    return tuple(tuple(float(x) for x in row) for row in p)  # type: ignore[return-value]


# ------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SyntheticMarket:
    """A simulated market: bars and the truth behind them.

    Attributes
    ----------
    bars : dict[str, pd.DataFrame]
        Valid bars per symbol: ``open high low close volume funding_rate trades``
        (float64) on a UTC index named ``time``.
    regimes : dict[str, pd.Series]
        True regime code per bar (int8, name ``"regime"``); codes index ``REGIME_NAMES``.
    order_flow : dict[str, pd.DataFrame]
        Per bar: ``buys``, ``sells`` (trade counts), ``signed_flow`` (buys - sells) and
        ``premium`` (time-average perp premium index).
    params : MarketParams
        The parameters used.
    seed : int
        The seed used.
    interval : str
        The bar interval.
    correlation : float
        The correlation of the symbols' shocks.
    """

    REGIME_NAMES: ClassVar[tuple[str, ...]] = REGIME_NAMES

    bars: dict[str, pd.DataFrame]
    regimes: dict[str, pd.Series]
    order_flow: dict[str, pd.DataFrame]
    params: MarketParams
    seed: int
    interval: str = "1h"
    correlation: float = 0.0

    @property
    def symbols(self) -> tuple[str, ...]:
        """The simulated symbols, in order."""
        return tuple(self.bars)

    def regime_labels(self, symbol: str) -> pd.Series:
        """Return the true regimes of ``symbol`` as a categorical Series of names."""
        if symbol not in self.regimes:
            raise ConfigError(f"symbol: {symbol!r} was not simulated; have {list(self.regimes)}")
        codes = self.regimes[symbol]
        cat = pd.Categorical.from_codes(codes.to_numpy(), categories=list(REGIME_NAMES))
        return pd.Series(cat, index=codes.index, name="regime")


# ---------------------------------------------------------------------- simulation


def base_price(symbol: str) -> float:
    """Return the deterministic starting price of ``symbol`` (BTC 60000, ETH 3000, SOL 150,
    anything else 100)."""
    return BASE_PRICES.get(symbol.upper(), DEFAULT_BASE_PRICE)


def _symbols(symbols: Any) -> tuple[str, ...]:
    if isinstance(symbols, str):
        symbols = (symbols,)
    try:
        out = tuple(symbols)
    except TypeError:
        raise ConfigError(f"symbols: expected a sequence of names, got {symbols!r}") from None
    if not out:
        raise ConfigError("symbols: at least one symbol is needed")
    for s in out:
        if not isinstance(s, str) or not s.strip():
            raise ConfigError(f"symbols: each symbol must be a non-empty string, got {s!r}")
    dup = sorted({s for s in out if out.count(s) > 1})
    if dup:
        raise ConfigError(f"symbols: duplicated {dup}")
    return out


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, got {seed!r}")
    return int(seed)


def _correlation(correlation: Any, n_symbols: int) -> float:
    if isinstance(correlation, bool) or not isinstance(
        correlation, int | float | np.integer | np.floating
    ):
        raise ConfigError(f"correlation: expected a number in (-1, 1), got {correlation!r}")
    rho = float(correlation)
    if not -1.0 < rho < 1.0:
        raise ConfigError(f"correlation: must be in (-1, 1), got {rho}")
    if n_symbols > 2 and rho <= -1.0 / (n_symbols - 1):
        raise ConfigError(
            f"correlation: an equicorrelation of {n_symbols} symbols must exceed "
            f"-1/(n-1) = {-1.0 / (n_symbols - 1):.6g}, got {rho}"
        )
    return rho


def _mixing(rho: float, n: int) -> tuple[float, float]:
    """Return ``(a, b)`` with ``(a I + b J)^2`` the equicorrelation matrix (J all ones)."""
    a = math.sqrt(1.0 - rho)
    s = math.sqrt(1.0 - rho + n * rho)
    return a, (s - a) / n


def _n_bars(n_bars: Any) -> int:
    if isinstance(n_bars, bool) or not isinstance(n_bars, int | np.integer) or n_bars < 1:
        raise ConfigError(f"n_bars: expected a positive integer, got {n_bars!r}")
    return int(n_bars)


def _streams(seed: int, symbol: str) -> tuple[np.random.Generator, np.random.Generator]:
    key = zlib.crc32(symbol.encode("utf-8"))
    normals = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key, 0)))
    uniforms = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key, 1)))
    return normals, uniforms


def simulate(
    symbols: str | Sequence[str] = ("BTC",),
    interval: str = "1h",
    start: Any = DEFAULT_START,
    end: Any = None,
    n_bars: int | None = None,
    seed: int = 0,
    correlation: float = 0.0,
    params: MarketParams | Mapping[str, Any] | None = None,
) -> SyntheticMarket:
    """Simulate a seeded synthetic market and return its bars and hidden truth.

    Parameters
    ----------
    symbols : str or sequence of str
        Symbols to simulate; each has its own regime chain and starting price.
    interval : str
        Bar interval such as ``"1m"``, ``"15m"``, ``"1h"``, ``"1d"``.
    start : str, datetime, Timestamp or int (epoch ms)
        First bar open time (naive means UTC), rounded up to a multiple of the interval.
    end : same types as ``start``, optional
        Bars open in ``[start, end)``. Give at most one of ``end`` and ``n_bars``;
        neither means 90 days.
    n_bars : int, optional
        Number of bars.
    seed : int
        Non-negative seed; same arguments give the identical market in any process.
    correlation : float
        Correlation of the symbols' normal shocks (buys, sells, diffusion), in (-1, 1)
        (above ``-1 / (n - 1)`` for ``n > 2`` symbols). Returns standardised within
        regimes carry it where the symbols share a regime; raw returns correlate less,
        because each symbol switches regimes (and volatility) on its own.
    params : MarketParams or mapping, optional
        Market parameters (a mapping overrides the defaults).

    Returns
    -------
    SyntheticMarket

    Raises
    ------
    ConfigError
        For an invalid argument or parameter, naming it.
    """
    syms = _symbols(symbols)
    seed = _seed(seed)
    rho = _correlation(correlation, len(syms))
    p = MarketParams.coerce(params)
    dt_s = interval_seconds(interval)
    sub_s = math.gcd(dt_s, 60)
    k = dt_s // sub_s
    dt_ns = dt_s * 1_000_000_000
    start_ts = to_utc(start, "start")
    first_ns = -(-start_ts.value // dt_ns) * dt_ns
    if end is not None and n_bars is not None:
        raise ConfigError("end, n_bars: give at most one of them")
    if n_bars is not None:
        n = _n_bars(n_bars)
    elif end is not None:
        end_ts = to_utc(end, "end")
        if end_ts.value <= first_ns:
            raise ConfigError(
                f"end: {end_ts.isoformat()} must be after the first bar "
                f"{pd.Timestamp(first_ns, tz='UTC').isoformat()}"
            )
        n = -(-(end_ts.value - first_ns) // dt_ns)
    else:
        n = -(-(DEFAULT_DAYS * 86_400) // dt_s)
    rp, trans_cum, init_cum, sc = p.kernel_arrays(sub_s / 3600.0)
    step0 = (first_ns // 1_000_000_000) % 3600 // sub_s
    mix_a, mix_b = _mixing(rho, len(syms))

    gens = {s: _streams(seed, s) for s in syms}
    states = {}
    for s in syms:
        st = np.zeros(mk.N_STATE)
        st[mk.ST_STEP] = step0
        st[mk.ST_REGIME] = -1
        price = p.initial_price if p.initial_price is not None else base_price(s)
        st[mk.ST_LOG_PRICE] = st[mk.ST_ANCHOR] = math.log(price)
        st[mk.ST_PREMIUM] = p.premium_mean
        states[s] = st
    pieces: dict[str, list[tuple[np.ndarray, ...]]] = {s: [] for s in syms}
    chunk_bars = max(1, _CHUNK_SUBSTEPS // k)
    done = 0
    while done < n:
        m = min(chunk_bars, n - done)
        normals = {s: gens[s][0].standard_normal((m * k, mk.N_NORMALS)) for s in syms}
        if mix_b != 0.0:
            common = sum(normals[s][:, : mk.Z_PREMIUM] for s in syms)
            for s in syms:
                normals[s][:, : mk.Z_PREMIUM] = (
                    mix_a * normals[s][:, : mk.Z_PREMIUM] + mix_b * common
                )
        for s in syms:
            uniforms = gens[s][1].random((m * k, mk.N_UNIFORMS))
            *out, states[s] = mk.simulate_market_nb(
                normals[s], uniforms, k, states[s], rp, trans_cum, init_cum, sc
            )
            pieces[s].append(tuple(out))
        done += m

    index = pd.date_range(
        pd.Timestamp(first_ns, tz="UTC"),
        periods=n,
        freq=pd.Timedelta(seconds=dt_s),
        name="time",
        unit="ns",
    )
    bars, regimes, flows = {}, {}, {}
    for s in syms:
        cols = [np.concatenate(c) for c in zip(*pieces[s], strict=True)]
        o, h, lo, c, vol, trades, funding, buys, sells, prem, reg = cols
        bars[s] = pd.DataFrame(
            {
                "open": o,
                "high": h,
                "low": lo,
                "close": c,
                "volume": vol,
                "funding_rate": funding,
                "trades": trades,
            },
            index=index,
        )
        regimes[s] = pd.Series(reg.astype(np.int8), index=index, name="regime")
        flows[s] = pd.DataFrame(
            {"buys": buys, "sells": sells, "signed_flow": buys - sells, "premium": prem},
            index=index,
        )
    return SyntheticMarket(
        bars=bars,
        regimes=regimes,
        order_flow=flows,
        params=p,
        seed=seed,
        interval=interval,
        correlation=rho,
    )


def synthetic_bars(
    symbol: str = "BTC",
    interval: str = "1h",
    start: Any = None,
    end: Any = None,
    seed: int = 0,
    n_bars: int | None = None,
    **param_overrides: Any,
) -> pd.DataFrame:
    """Return the synthetic bars of one symbol (what ``ql.data.load("synthetic")`` calls).

    Parameters
    ----------
    symbol, interval, seed, n_bars
        As in :func:`simulate`.
    start, end : optional
        Bars open in ``[start, end)``. Without ``start``: 2024-01-01, or, when ``end`` is
        given, the ``n_bars`` (default 90 days of) bars before ``end``.
    **param_overrides
        Any :class:`MarketParams` field, e.g. ``volatility={"turbulent": 0.05}``.

    Returns
    -------
    pd.DataFrame
        ``simulate((symbol,), ...).bars[symbol]``.

    Raises
    ------
    ConfigError
        For an unknown keyword (the message lists the valid ones) or a bad value.
    """
    valid = MarketParams.field_names()
    unknown = sorted(set(param_overrides) - set(valid))
    if unknown:
        raise ConfigError(
            f"synthetic_bars: unknown keyword(s) {unknown}; valid: symbol, interval, start, "
            f"end, seed, n_bars and the market parameters {list(valid)}"
        )
    params = MarketParams().replace(**param_overrides) if param_overrides else None
    if start is None and end is not None:
        dt_ns = interval_seconds(interval) * 1_000_000_000
        end_ns = to_utc(end, "end").value
        n = (
            _n_bars(n_bars)
            if n_bars is not None
            else -(-(DEFAULT_DAYS * 86_400) // (dt_ns // 10**9))
        )
        last_open = (end_ns - 1) // dt_ns * dt_ns
        start = pd.Timestamp(last_open - (n - 1) * dt_ns, tz="UTC")
        end, n_bars = None, n
    elif start is None:
        start = DEFAULT_START
    market = simulate(
        (symbol,), interval=interval, start=start, end=end, n_bars=n_bars, seed=seed, params=params
    )
    return market.bars[symbol]
