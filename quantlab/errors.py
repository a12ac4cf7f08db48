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
