"""The embedded on-chain market: seeded swaps on constant-product pools, with the truth.

``simulate(seed=7)`` is the offline default for everything on-chain, as the synthetic perp
market is for bars. Its parts mean something:

- **Pools**: one constant-product AMM per token against SOL (``x * y = k``, a swap fee
  taken from the input). Every swap moves the reserves and so the price.
- **Clusters**: groups of wallets that trade together. A cluster's *leader* opens a
  position in a token at a Poisson time; each *follower* copies it after its own delay
  (exponential, a few minutes on average) with a high probability, and they exit the same
  way some hours later. These are the planted communities Louvain must recover.
- **Smart money**: the leaders of the first ``n_smart`` clusters are informed. A
  *social trigger* on a token starts a herd ``lead`` seconds after they bought: retail
  wallets pile in with an intensity that rises (herd intensification) to a peak and
  decays (follower exhaustion); the smart clusters sell into the exhaustion.
- **Noise traders** buy and sell random tokens at random times and sizes.

The truth returned: each wallet's planted cluster (``-1`` for noise and herd wallets),
its role, which wallets are smart, and the herd phases per token (``quiet``,
``ignition``, ``herd``, ``exhaustion``) as time spans.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quantlab.data.solana.frame import swaps_frame
from quantlab.data.solana.programs import SOL_MINT
from quantlab.errors import ConfigError

__all__ = ["PHASES", "OnchainMarket", "sim_address", "simulate"]

PHASES = ("quiet", "ignition", "herd", "exhaustion")
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def sim_address(kind: str, i: int, seed: int) -> str:
    """Return a deterministic base58 string of 44 characters standing for an address."""
    n = int.from_bytes(hashlib.sha256(f"{kind}:{i}:{seed}".encode()).digest(), "big")
    out = []
    for _ in range(44):
        n, r = divmod(n, 58)
        out.append(_B58[r])
    return "".join(out)


@dataclass
class OnchainMarket:
    """What :func:`simulate` returns.

    Attributes
    ----------
    swaps : pd.DataFrame
        The swap frame (see :mod:`quantlab.data.solana.frame`), program ``"amm"``.
    pools : pd.DataFrame
        Pool state after every swap: ``time token reserve_sol reserve_token price``
        (row ``i`` belongs to swap ``i``).
    clusters : pd.Series
        Planted cluster of every wallet (``-1``: not in a cluster), indexed by wallet.
    roles : pd.Series
        ``leader``, ``follower``, ``noise`` or ``herd`` per wallet.
    smart : list of str
        Wallets of the informed clusters.
    phases : pd.DataFrame
        ``token phase start end`` spans of each herd.
    tokens : list of str
        Token mints, one pool each.
    params : dict
        The parameters used.
    """

    swaps: pd.DataFrame
    pools: pd.DataFrame
    clusters: pd.Series
    roles: pd.Series
    smart: list[str]
    phases: pd.DataFrame
    tokens: list[str]
    params: dict = field(default_factory=dict)

    def phase_at(self, token: str, times: pd.DatetimeIndex) -> pd.Series:
        """Return the true herd phase of ``token`` at each of ``times``."""
        out = np.full(len(times), "quiet", dtype=object)
        spans = self.phases[self.phases["token"] == token]
        for row in spans.itertuples():
            out[(times >= row.start) & (times < row.end)] = row.phase
        return pd.Series(out, index=times, name="phase")


def simulate(
    seed: int = 7,
    *,
    days: float = 10.0,
    n_tokens: int = 4,
    n_clusters: int = 8,
    cluster_size: int = 8,
    n_smart: int = 2,
    n_noise: int = 60,
    n_herd: int = 300,
    herds_per_token: int = 2,
    cluster_rate: float = 1.0 / 6.0,
    follow_prob: float = 0.9,
    follow_delay: float = 180.0,
    hold_hours: float = 6.0,
    noise_rate: float = 1.0 / 3.0,
    lead: float = 1800.0,
    herd_peak: float = 3600.0,
    herd_buyers: int = 200,
    reserve_sol: float = 300.0,
    price0: float = 1e-4,
    swap_fee: float = 0.0025,
    start: str = "2024-01-01",
) -> OnchainMarket:
    """Simulate the on-chain market (see the module docstring).

    Parameters
    ----------
    seed
        Seed of the generator; the same seed gives the same market.
    days
        Length of the simulation.
    n_tokens, n_clusters, cluster_size, n_smart, n_noise, n_herd
        Pools; planted clusters and wallets per cluster (one leader each); informed
        clusters among them; noise traders; the retail pool herds draw from.
    herds_per_token
        Social triggers per token.
    cluster_rate
        Trades a cluster leader opens per hour.
    follow_prob, follow_delay
        Probability that a follower copies a trade, and its mean delay (seconds).
    hold_hours
        Mean holding time of a cluster position.
    noise_rate
        Swaps per hour per noise trader.
    lead, herd_peak, herd_buyers
        Seconds the smart clusters buy before the trigger; seconds from the trigger to
        the herd's peak intensity; expected retail buyers per herd.
    reserve_sol, price0, swap_fee
        Initial SOL reserve and price (SOL per token) of every pool; AMM fee.
    start
        UTC start time.

    Returns
    -------
    OnchainMarket
    """
    if n_smart > n_clusters or min(n_tokens, n_clusters, cluster_size) < 1 or days <= 0:
        raise ConfigError(
            "simulate: need days > 0, n_tokens, n_clusters, cluster_size >= 1 and "
            f"n_smart <= n_clusters (got n_smart={n_smart}, n_clusters={n_clusters})"
        )
    params = dict(locals())
    rng = np.random.default_rng(seed)
    horizon = days * 86_400.0
    tokens = [sim_address("mint", k, seed) for k in range(n_tokens)]
    wallets: list[str] = []
    cluster_of: list[int] = []
    role_of: list[str] = []
    members: list[list[int]] = []
    for c in range(n_clusters):
        ids = []
        for j in range(cluster_size):
            ids.append(len(wallets))
            wallets.append(sim_address("wallet", len(wallets), seed))
            cluster_of.append(c)
            role_of.append("leader" if j == 0 else "follower")
        members.append(ids)
    noise_ids = []
    for _ in range(n_noise):
        noise_ids.append(len(wallets))
        wallets.append(sim_address("wallet", len(wallets), seed))
        cluster_of.append(-1)
        role_of.append("noise")
    herd_ids = []
    for _ in range(n_herd):
        herd_ids.append(len(wallets))
        wallets.append(sim_address("wallet", len(wallets), seed))
        cluster_of.append(-1)
        role_of.append("herd")
    # per-follower mean delay: followers differ in how fast they copy
    delay_scale = rng.uniform(0.4, 1.6, len(wallets)) * follow_delay

    # events: (time, wallet, token, side, size); size = SOL for buys, fraction for sells
    ev_t: list[float] = []
    ev_w: list[int] = []
    ev_k: list[int] = []
    ev_s: list[int] = []
    ev_x: list[float] = []

    def add(t: float, w: int, k: int, s: int, x: float) -> None:
        if 0.0 <= t < horizon:
            ev_t.append(t)
            ev_w.append(w)
            ev_k.append(k)
            ev_s.append(s)
            ev_x.append(x)

    def cluster_trade(c: int, t0: float, k: int, t_exit: float, scale: float = 1.0) -> None:
        for j, w in enumerate(members[c]):
            if j > 0 and rng.random() > follow_prob:
                continue
            d_in = 0.0 if j == 0 else rng.exponential(delay_scale[w])
            d_out = 0.0 if j == 0 else rng.exponential(delay_scale[w])
            size = scale * rng.lognormal(np.log(2.0 if j == 0 else 1.0), 0.4)
            add(t0 + d_in, w, k, 1, size)
            add(t_exit + d_out, w, k, -1, 1.0)

    # planted cluster activity (the informed clusters trade less outside the herds)
    for c in range(n_clusters):
        rate = cluster_rate * (0.25 if c < n_smart else 1.0)
        n = rng.poisson(rate * horizon / 3600.0)
        for t0 in np.sort(rng.uniform(0.0, horizon, n)):
            cluster_trade(
                c, t0, int(rng.integers(n_tokens)), t0 + rng.exponential(hold_hours * 3600)
            )

    # herds: smart clusters buy first, the trigger starts retail buying, smart sells late
    phase_rows = []
    for k in range(n_tokens):
        slots = np.sort(rng.uniform(0.1, 0.9, herds_per_token)) * horizon
        for trig in slots:
            for c in range(n_smart):
                cluster_trade(
                    c, trig - lead * rng.uniform(0.6, 1.0), k, trig + 1.5 * herd_peak, 2.0
                )
            n_buy = rng.poisson(herd_buyers)
            times = trig + rng.gamma(2.0, herd_peak, n_buy)  # intensity peaks at herd_peak
            who = rng.choice(herd_ids, n_buy) if herd_ids else []
            for t, w in zip(times, who, strict=False):
                add(t, int(w), k, 1, rng.lognormal(np.log(1.0), 0.6))
                add(t + rng.exponential(3 * herd_peak), int(w), k, -1, 1.0)
            start_ts = pd.Timestamp(start, tz="UTC")
            for phase, a, b in (
                ("ignition", trig - lead, trig),
                ("herd", trig, trig + herd_peak),
                ("exhaustion", trig, trig + 4 * herd_peak),
            ):
                if phase == "exhaustion":
                    a = trig + herd_peak
                phase_rows.append(
                    (
                        tokens[k],
                        phase,
                        start_ts + pd.Timedelta(seconds=a),
                        start_ts + pd.Timedelta(seconds=b),
                    )
                )

    # noise traders
    for w in noise_ids:
        n = rng.poisson(noise_rate * horizon / 3600.0)
        for t in rng.uniform(0.0, horizon, n):
            side = 1 if rng.random() < 0.5 else -1
            add(
                t,
                w,
                int(rng.integers(n_tokens)),
                side,
                rng.lognormal(np.log(0.8), 0.7) if side > 0 else rng.uniform(0.2, 1.0),
            )

    order = np.argsort(np.asarray(ev_t), kind="stable")
    r_sol = np.full(n_tokens, reserve_sol)
    r_tok = r_sol / price0
    hold = np.zeros((len(wallets), n_tokens))
    gamma = 1.0 - swap_fee
    rows_t, rows_w, rows_k, rows_side, rows_sol, rows_qty = [], [], [], [], [], []
    pool_rows = []
    t_arr = np.asarray(ev_t)
    for i in order:
        w, k, s, x = ev_w[i], ev_k[i], ev_s[i], ev_x[i]
        if s > 0:
            dx = x
            out = r_tok[k] * gamma * dx / (r_sol[k] + gamma * dx)
            r_sol[k] += dx
            r_tok[k] -= out
            hold[w, k] += out
            sol_amt, qty = dx, out
        else:
            qty = hold[w, k] * x
            if qty <= 0.0:
                continue
            out = r_sol[k] * gamma * qty / (r_tok[k] + gamma * qty)
            r_tok[k] += qty
            r_sol[k] -= out
            hold[w, k] -= qty
            sol_amt = out
        rows_t.append(t_arr[i])
        rows_w.append(w)
        rows_k.append(k)
        rows_side.append(s)
        rows_sol.append(sol_amt)
        rows_qty.append(qty)
        pool_rows.append((r_sol[k], r_tok[k]))

    n_sw = len(rows_t)
    t0 = pd.Timestamp(start, tz="UTC")
    times = t0 + pd.to_timedelta(np.asarray(rows_t), unit="s")
    side = np.asarray(rows_side)
    mint = np.asarray(tokens, dtype=object)[np.asarray(rows_k, dtype=np.int64)]
    sol_mint = np.full(n_sw, SOL_MINT, dtype=object)
    sol_amt = np.asarray(rows_sol)
    qty = np.asarray(rows_qty)
    raw = pd.DataFrame(
        {
            "time": times,
            "signature": [
                sim_address("sig", i, seed) + sim_address("sig2", i, seed) for i in range(n_sw)
            ],
            "instruction": np.zeros(n_sw, dtype=np.int64),
            "wallet": np.asarray(wallets, dtype=object)[np.asarray(rows_w, dtype=np.int64)],
            "program": "amm",
            "mint_in": np.where(side > 0, sol_mint, mint),
            "amount_in": np.where(side > 0, sol_amt, qty),
            "mint_out": np.where(side > 0, mint, sol_mint),
            "amount_out": np.where(side > 0, qty, sol_amt),
            "fee": np.full(n_sw, 5e-6),
        }
    )
    swaps = swaps_frame(raw)
    reserves = np.asarray(pool_rows).reshape(n_sw, 2)
    pools = pd.DataFrame(
        {
            "time": times,
            "token": mint,
            "reserve_sol": reserves[:, 0],
            "reserve_token": reserves[:, 1],
            "price": reserves[:, 0] / reserves[:, 1],
        }
    )
    index = pd.Index(wallets, name="wallet")
    clusters = pd.Series(cluster_of, index=index, name="cluster")
    roles = pd.Series(role_of, index=index, name="role")
    smart = [wallets[w] for c in range(n_smart) for w in members[c]]
    phases = pd.DataFrame(phase_rows, columns=["token", "phase", "start", "end"])
    params.pop("rng", None)
    return OnchainMarket(swaps, pools, clusters, roles, smart, phases, tokens, params)
