"""Signing keys: read from an environment variable or a private file outside the repository.

The key is wrapped at once in an ``eth_account`` ``LocalAccount`` (whose repr shows no
key); the raw text is never logged, returned or kept on an object.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from quantlab.errors import ConfigError

__all__ = ["DEFAULT_KEY_ENV", "load_wallet"]

DEFAULT_KEY_ENV = "HL_PRIVATE_KEY"


def _repo_root(start: Path) -> Path | None:
    for parent in (start, *start.parents):
        if (parent / ".git").exists() or (parent / "pyproject.toml").exists():
            return parent
    return None


def _inside(path: Path, root: Path | None) -> bool:
    if root is None:
        return False
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _wallet_from_text(text: str, source: str) -> Any:
    from eth_account import Account

    key = text.strip()
    try:
        return Account.from_key(key)
    except Exception:  # the message of eth_account may echo the key: never show it
        raise ConfigError(f"key: {source} does not hold a valid private key") from None


def load_wallet(*, env: str | None = DEFAULT_KEY_ENV, path: str | os.PathLike | None = None) -> Any:
    """Return the ``LocalAccount`` of a private key from a file or an environment variable.

    Parameters
    ----------
    env : str or None
        Environment variable holding the hex key (used when ``path`` is None).
    path : path-like, optional
        A file holding the key. It must be outside the repository and readable by its
        owner only (mode ``0600`` or stricter).

    Raises
    ------
    ConfigError
        No key, a key file inside the repository or readable by others, or not a key.
    """
    if path is not None:
        p = Path(path).expanduser().resolve()
        repos = (_repo_root(Path(__file__).resolve().parent), _repo_root(Path.cwd().resolve()))
        if any(_inside(p, root) for root in repos):
            raise ConfigError(f"key: {p} is inside the repository; keep keys outside it")
        if not p.is_file():
            raise ConfigError(f"key: no key file at {p}")
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"key: {p} is readable by others (mode {mode:04o}); run chmod 600 on it"
            )
        return _wallet_from_text(p.read_text(encoding="utf-8"), f"file {p}")
    if env:
        text = os.environ.get(env)
        if text:
            return _wallet_from_text(text, f"environment variable {env}")
    raise ConfigError(
        f"key: none given; set the environment variable {env or DEFAULT_KEY_ENV} or pass "
        "key_file= (a 0600 file outside the repository)"
    )
