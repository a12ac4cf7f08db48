"""Replay recorded vcrpy YAML cassettes at the ``requests`` transport level.

The real SDK code (``Info``, ``API.post``, ``API._handle_exception``) runs on the recorded
wire data; only the socket is replaced. A request that was not recorded fails loudly with
:class:`UnrecordedRequestError` (an ``AssertionError``, which no source code catches), so
a test can never reach the network.

Matching: method, URI and the JSON body, after dropping keys whose value is the empty
string (newer SDKs send ``{"type": "meta", "dex": ""}`` where the cassettes recorded
``{"type": "meta"}``; ``""`` is the SDK's default dex). Everything else must be equal.

    with replay(load_cassette(path)) as adapter:
        info = Info(skip_ws=True, spot_meta={"universe": [], "tokens": []})
        ...
    adapter.calls  # the requests served, in order
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from unittest import mock

import requests
import yaml
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


class UnrecordedRequestError(AssertionError):
    """A request had no recorded answer (a test must never reach the network)."""


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v != ""}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def body_key(body: Any) -> str:
    """Return the canonical form of a request body used for matching."""
    if body is None or body == "":
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body
    return json.dumps(_drop_empty(body), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Interaction:
    """One recorded HTTP exchange."""

    method: str
    uri: str
    body: str
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    response: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.method.upper(), self.uri, body_key(self.body))

    def json(self) -> Any:
        """Return the recorded response body, parsed."""
        return json.loads(self.response)

    def request_json(self) -> Any:
        """Return the recorded request body, parsed."""
        return json.loads(self.body)


def load_cassette(path: str | Path) -> list[Interaction]:
    """Read a vcrpy YAML cassette into a list of :class:`Interaction`."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out = []
    for item in data["interactions"]:
        request, response = item["request"], item["response"]
        headers = {k: (v[0] if isinstance(v, list) else v) for k, v in response["headers"].items()}
        body = response["body"]
        text = body.get("string", "") if isinstance(body, dict) else body
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        out.append(
            Interaction(
                method=request["method"],
                uri=request["uri"],
                body=request["body"] or "",
                status=int(response["status"]["code"]),
                reason=str(response["status"]["message"]),
                headers=headers,
                response=text,
            )
        )
    return out


def retarget(interaction: Interaction, body: Any) -> Interaction:
    """Return ``interaction`` answering another request body (same recorded response)."""
    text = body if isinstance(body, str) else json.dumps(body)
    return replace(interaction, body=text)


class ReplayAdapter(BaseAdapter):
    """A ``requests`` transport that serves recorded interactions.

    Parameters
    ----------
    interactions : sequence of Interaction
        What may be answered.
    repeats : bool
        Whether an interaction may be served more than once (vcrpy's
        ``allow_playback_repeats``); by default each is served once, in recorded order.
    """

    def __init__(self, interactions: Sequence[Interaction], repeats: bool = False) -> None:
        super().__init__()
        self.interactions = list(interactions)
        self.repeats = repeats
        self.used = [False] * len(self.interactions)
        self.calls: list[tuple[str, str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        key = (str(request.method).upper(), str(request.url), body_key(request.body))
        for k, interaction in enumerate(self.interactions):
            if interaction.key == key and (self.repeats or not self.used[k]):
                self.used[k] = True
                self.calls.append((key[0], key[1], json.loads(key[2]) if key[2] else None))
                return self._response(request, interaction)
        recorded = "\n  ".join(" ".join(i.key) for i in self.interactions)
        raise UnrecordedRequestError(
            f"no recorded answer for {' '.join(key)}\nrecorded:\n  {recorded}"
        )

    @staticmethod
    def _response(request: requests.PreparedRequest, interaction: Interaction) -> requests.Response:
        response = requests.Response()
        response.status_code = interaction.status
        response.reason = interaction.reason
        headers = {
            k: v
            for k, v in interaction.headers.items()
            if k.lower() not in ("content-encoding", "transfer-encoding")
        }
        response.headers = CaseInsensitiveDict(headers)
        response._content = interaction.response.encode("utf-8")
        response.encoding = "utf-8"
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""


@contextlib.contextmanager
def serve(adapter: BaseAdapter) -> Iterator[BaseAdapter]:
    """Route every ``requests.Session`` in the process through ``adapter``."""
    with mock.patch.object(requests.Session, "get_adapter", lambda self, url: adapter):
        yield adapter


@contextlib.contextmanager
def replay(interactions: Sequence[Interaction], repeats: bool = False) -> Iterator[ReplayAdapter]:
    """Serve ``interactions`` to every ``requests`` call inside the block."""
    adapter = ReplayAdapter(interactions, repeats=repeats)
    with serve(adapter):
        yield adapter
