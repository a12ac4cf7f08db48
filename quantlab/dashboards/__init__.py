"""Panel dashboards: views over the same quantlab functions the notebooks call.

In a notebook (JupyterLab renders them inline)::

    import panel as pn
    import quantlab as ql
    pn.extension()
    df = ql.data.load("synthetic", symbol="BTC", interval="1h", seed=7)
    ql.dashboards.factors_view(df)

From a shell: ``quantlab dashboard`` (or ``make dashboard``) serves :func:`app` on
http://127.0.0.1:5006/ with the Data, Factors, Models, Backtest and Reports pages.
"""

from __future__ import annotations

from quantlab.dashboards.app import PAGES, app, serve
from quantlab.dashboards.backtest import backtest_view
from quantlab.dashboards.data import data_view
from quantlab.dashboards.factors import factors_view
from quantlab.dashboards.models import models_view
from quantlab.dashboards.reports import reports_view

__all__ = [
    "PAGES",
    "app",
    "backtest_view",
    "data_view",
    "factors_view",
    "models_view",
    "reports_view",
    "serve",
]
