"""The one exception family of quantlab.

Every message names the offending row, column or field and the rule it broke, so that a
notebook user can fix the input without reading a traceback.
"""

from __future__ import annotations


class QuantlabError(Exception):
    """Base class of every error quantlab raises on purpose."""


class DataError(QuantlabError, ValueError):
    """Bars or other input data break a rule of the data schema."""


class ConfigError(QuantlabError, ValueError):
    """A parameter, config file or argument is unknown, missing or out of range."""


class SourceError(QuantlabError, RuntimeError):
    """A data source (venue API, file) failed or answered something unusable."""


class ReportError(QuantlabError, RuntimeError):
    """A notebook in a report batch failed."""


class ExecutionError(QuantlabError, RuntimeError):
    """An order could not be placed, changed or looked up on an execution backend."""


class OrderRejected(ExecutionError):
    """The backend or the venue refused an order; nothing was placed.

    ``client_order_id`` names the order and ``reason`` the rule it broke (for example
    ``"Insufficient margin to place order."`` or ``"minimum notional $10"``).
    """

    def __init__(self, message: str, *, client_order_id: str | None = None, reason: str = ""):
        super().__init__(message)
        self.client_order_id = client_order_id
        self.reason = reason or message


class VenueUnavailable(ExecutionError):
    """The venue could not be reached or refused service (5xx, 429); nothing was applied.

    Raised only when it is *known* that the action did not take effect, so retrying it
    later is safe. When that is not known, :class:`OrderStateUnknown` is raised instead.
    """


class OrderStateUnknown(ExecutionError):
    """The outcome of an action is unknown (a timeout after sending, an unreadable answer).

    Never read this as "not placed": look the client order id up (``order_status``) before
    sending anything again.
    """

    def __init__(self, message: str, *, client_order_id: str | None = None):
        super().__init__(message)
        self.client_order_id = client_order_id


class PromotionRefused(QuantlabError, ValueError):
    """A lifecycle promotion was refused: its evidence is missing, stale or fails a gate.

    ``reasons`` lists every rule the evidence broke (one line each), ``gates`` the gate
    records evaluated (name, value, threshold, passed), when there were any.
    """

    def __init__(self, message: str, *, reasons: list[str] | None = None, gates=None):
        super().__init__(message)
        self.reasons = list(reasons or [])
        self.gates = list(gates or [])
