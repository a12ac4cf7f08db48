"""Pick the best configuration of a search and judge it with the Deflated Sharpe Ratio.

A configuration chosen as the best of ``N`` trials is biased upwards by the choice itself;
:func:`select_best` re-runs the sweep's best and deflates its Sharpe ratio with the real
trial count: every sweep combination plus every search trial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from quantlab.backtest.costs import Costs
from quantlab.backtest.engine import run
from quantlab.backtest.overfitting import DeflatedSharpe, deflated_sharpe
from quantlab.backtest.result import BacktestResult
from quantlab.backtest.search import SearchResult
from quantlab.backtest.stats import periods_per_year
from quantlab.backtest.strategy import StrategyBase
from quantlab.backtest.sweeps import apply_params, best_params


@dataclass(frozen=True)
class Selection:
    """The chosen configuration, its backtest and its Deflated Sharpe Ratio.

    Attributes
    ----------
    params : dict
        The best sweep row's grid parameters.
    strategy : StrategyBase
        The base strategy with ``params`` applied.
    costs : Costs
    result : BacktestResult
        The chosen configuration run on the whole sample (in sample).
    n_trials : int
        Sweep combinations plus search trials.
    deflated : DeflatedSharpe
    """

    params: dict[str, Any]
    strategy: StrategyBase
    costs: Costs
    result: BacktestResult
    n_trials: int
    deflated: DeflatedSharpe

    def summary(self) -> pd.Series:
        """Return the facts a reader needs: params, Sharpe, trials, SR0, PSR, DSR."""
        annualise = periods_per_year(self.result.bar_seconds) ** 0.5
        return pd.Series(
            {
                "best params": self.params,
                "in-sample sharpe": self.result.stats["sharpe"],
                "trials": self.n_trials,
                "expected max sharpe of the trials (annualised)": self.deflated.sr0 * annualise,
                "PSR (vs 0)": self.deflated.psr,
                "deflated sharpe ratio": self.deflated.dsr,
            },
            name="value",
        )


def select_best(
    df: pd.DataFrame,
    strategy: StrategyBase | dict | str,
    table: pd.DataFrame,
    costs: Costs | float | dict | None = None,
    *,
    searches: Sequence[SearchResult] = (),
    metric: str = "sharpe",
    fill: str | None = None,
) -> Selection:
    """Re-run the best row of a sweep and deflate its Sharpe ratio by every trial made.

    Parameters
    ----------
    df : pd.DataFrame
        The bars the sweep ran on.
    strategy : StrategyBase, mapping or str
        The sweep's base strategy.
    table : pd.DataFrame
        The sweep table (:func:`quantlab.backtest.sweep`); ``attrs["n_trials"]`` counts.
    costs : Costs, float or mapping, optional
        The sweep's costs; default the costs the sweep table states (``attrs["costs"]``),
        else the venue's.
    searches : sequence of SearchResult
        Searches also made on these bars (their trials count and their Sharpe ratios
        join the trial dispersion).
    metric : str
        The column that chose the best row.
    fill : {"next_open", "close"}
        As in :func:`quantlab.backtest.run`; default the sweep's (else ``"next_open"``).
    """
    if costs is None:
        costs = table.attrs.get("costs")
    if fill is None:
        fill = table.attrs.get("fill", "next_open")
    params = best_params(table, metric)
    chosen, chosen_costs = apply_params(strategy, params, costs)
    result = run(df, chosen, chosen_costs, fill=fill)
    n_trials = int(table.attrs.get("n_trials", len(table))) + sum(s.n_trials for s in searches)
    sharpes = pd.concat([table["sharpe"], *(s.trials["sharpe"] for s in searches)]).dropna()
    deflated = deflated_sharpe(
        result.returns,
        sharpes,
        n_trials=n_trials,
        periods_per_year=periods_per_year(result.bar_seconds),
    )
    return Selection(params, chosen, chosen_costs, result, n_trials, deflated)
