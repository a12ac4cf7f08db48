"""Mode switches and keys: paper by default, mainnet only on purpose, keys never shown.

- ``paper``: the paper backend; no exchange, no key.
- ``sim``: the local Hyperliquid exchange (``quantlab exchange-sim``); a throw-away key
  is generated when none is given.
- ``testnet``: Hyperliquid's testnet; a key from ``QUANTLAB_HL_KEY`` or ``--key-file``.
- ``mainnet``: real money. Needs ``QUANTLAB_LIVE_ENABLE=1`` in the environment *and*
  ``--confirm-mainnet`` on the command line, and a key from the same places.

A key file must be a regular file outside the repository, readable by its owner only
(mode 0600 or stricter). The key is held in a :class:`Secret`, whose ``repr`` and ``str``
never show it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from quantlab.errors import ConfigError
from quantlab.execution.hyperliquid import MAINNET_URL, TESTNET_URL

__all__ = ["MODES", "Secret", "check_mode", "load_key"]

MODES = ("paper", "sim", "testnet", "mainnet")

KEY_ENV = "QUANTLAB_HL_KEY"
ENABLE_ENV = "QUANTLAB_LIVE_ENABLE"

#: The venue of each mode (the execution adapter's own constants).
HYPERLIQUID_URLS = {"testnet": TESTNET_URL, "mainnet": MAINNET_URL}


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret (hand it to the signer only)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> object:  # never pickled into another process or file
        raise TypeError("a Secret cannot be pickled")


def check_mode(
    mode: str, *, confirm_mainnet: bool = False, env: Mapping[str, str] | None = None
) -> str:
    """Return ``mode`` when it may run; raise ConfigError naming the missing switch."""
    env = os.environ if env is None else env
    if mode not in MODES:
        raise ConfigError(f"--mode: {mode!r} is not one of {', '.join(MODES)}")
    if mode == "mainnet":
        if env.get(ENABLE_ENV) != "1":
            raise ConfigError(
                f"--mode mainnet: refused; set {ENABLE_ENV}=1 in the environment (real money)"
            )
        if not confirm_mainnet:
            raise ConfigError("--mode mainnet: refused; pass --confirm-mainnet as well")
    return mode


def _repo_root(start: Path) -> Path | None:
    for p in (start, *start.parents):
        if (p / ".git").exists():
            return p
    return None


def load_key(
    mode: str,
    key_file: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    repo: str | os.PathLike[str] | None = None,
) -> Secret | None:
    """Return the signing key for ``mode`` (None for paper; sim may go without).

    Parameters
    ----------
    mode : str
    key_file : path, optional
        A file holding the hex private key; must be 0600 (or stricter) and outside the
        repository (``repo``, default: the git work tree holding this package).
    env : mapping, optional
        Environment (default ``os.environ``); ``QUANTLAB_HL_KEY`` is read from it.

    Raises
    ------
    ConfigError
        No key where one is needed, a world/group-readable key file, a key file inside
        the repository, or a key that is not 32 bytes of hex. The message never holds
        the key.
    """
    env = os.environ if env is None else env
    if mode == "paper":
        return None
    text: str | None = None
    if key_file is not None:
        path = Path(key_file).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"--key-file: {str(path)!r} is not a file")
        root = Path(repo).resolve() if repo else _repo_root(Path(__file__).resolve().parent)
        if root is not None and (path == root or root in path.parents):
            raise ConfigError(
                f"--key-file: {str(path)!r} lies inside the repository {str(root)!r}; "
                "keep keys outside it"
            )
        mode_bits = stat.S_IMODE(path.stat().st_mode)
        if mode_bits & 0o077:
            raise ConfigError(
                f"--key-file: {str(path)!r} has mode {oct(mode_bits)}; it must be readable by "
                "its owner only (chmod 600)"
            )
        text = path.read_text(encoding="utf-8").strip()
    elif env.get(KEY_ENV):
        text = env[KEY_ENV].strip()
    if text is None:
        if mode == "sim":
            return None
        raise ConfigError(
            f"--mode {mode}: no key; set {KEY_ENV} or pass --key-file (a 0600 file outside "
            "the repository)"
        )
    body = text[2:] if text.startswith("0x") else text
    if len(body) != 64 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ConfigError("key: expected 32 bytes of hex (64 hex digits, optional 0x)")
    return Secret("0x" + body.lower())
