"""Small displayable summaries that notebooks show and the batch runner reads back."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

DATA_CARD_MIME = "application/x-quantlab-data+json"


class DataCard:
    """What data a notebook used: source, symbol, interval, range and row count.

    Displaying it in a notebook shows a small table; the report runner reads the same
    facts back from the executed notebook (a custom MIME type) into
    ``run_metadata.json``.
    """

    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            DATA_CARD_MIME: self.facts,
            "text/html": self._repr_html_(),
            "text/plain": repr(self),
        }

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td>{html.escape(str(v))}</td></tr>"
            for k, v in self.facts.items()
        )
        return f"<table class='quantlab-data-card'>{rows}</table>"

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.facts.items())
        return f"DataCard({inner})"


def data_card(
    df: pd.DataFrame,
    source: str,
    symbol: str | None = None,
    interval: str | None = None,
    **extra: Any,
) -> DataCard:
    """Describe the bars a notebook loaded, for the reader and for ``run_metadata.json``.

    Parameters
    ----------
    df : pd.DataFrame
        The bars.
    source, symbol, interval : str
        Where they came from.
    **extra
        Further facts to record (e.g. ``seed=7``).
    """
    facts: dict[str, Any] = {
        "source": str(source),
        "symbol": symbol,
        "interval": interval,
        "start": df.index[0].isoformat() if len(df) else None,
        "end": df.index[-1].isoformat() if len(df) else None,
        "rows": len(df),
        "columns": [str(c) for c in df.columns],
    }
    facts.update(
        {k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in extra.items()}
    )
    return DataCard(facts)
