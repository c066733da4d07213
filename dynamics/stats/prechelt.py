"""Prechelt's stopping criteria GL_alpha, PQ_alpha and UP_s on a log.

Prechelt, "Early Stopping -- But When?" (Neural Networks: Tricks of the
Trade, LNCS 1524, 1998; docs/methods.md#prechelts-criteria; formulas cross-checked with
JuliaAI/EarlyStopping.jl ``src/criteria.jl``). With validation error
``E_va(t)`` and training error ``E_tr(t)`` after epoch t:

* ``E_opt(t) = min_{t' <= t} E_va(t')``;
  generalization loss ``GL(t) = 100 (E_va(t) / E_opt(t) - 1)`` (percent);
  **GL_alpha** stops after the first epoch with ``GL(t) > alpha``.
* Strips of k epochs end at multiples of k. Training progress
  ``P_k(t) = 1000 (sum_{strip} E_tr / (k min_{strip} E_tr) - 1)``;
  **PQ_alpha** stops after the first strip end with ``GL(t)/P_k(t) > alpha``.
* **UP_s** stops after strip end t if ``E_va`` rose at s successive strip
  ends: ``E_va(t') > E_va(t' - k)`` for ``t' = t, t-k, ..., t-(s-1)k``.

Here E is the loss (``val_loss`` / ``loss``). Every decision is made on the
interval of values that print like the logged ones: a criterion only
"stops" where it is certain to, and is "undetermined" where an elided epoch
or a borderline value decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dynamics.stats.early_stopping import StopOutcome, _span, missing_ranges

if TYPE_CHECKING:
    from dynamics.run import Run

__all__ = ["GL_ALPHAS", "PQ_ALPHAS", "UP_STRIPS", "prechelt_criteria", "prechelt_table"]

GL_ALPHAS = (1.0, 2.0, 3.0, 5.0)
PQ_ALPHAS = (0.5, 0.75, 1.0, 2.0, 3.0)
UP_STRIPS = (2, 3, 4, 6, 8)


def _why_missing(epoch: int, present: set[int], gaps: list[tuple[int, int]], name: str) -> str:
    for first, last in gaps:
        if first <= epoch <= last:
            return f"{_span(first, last)} {'are' if first != last else 'is'} missing from the log"
    return f"{name} is missing at epoch {epoch}"


def prechelt_criteria(
    epochs: Sequence[int],
    val_error: Sequence[float],
    train_error: Sequence[float],
    *,
    k: int = 5,
    gl_alphas: Sequence[float] = GL_ALPHAS,
    pq_alphas: Sequence[float] = PQ_ALPHAS,
    up_strips: Sequence[int] = UP_STRIPS,
    val_halfwidth: Sequence[float] | float = 0.0,
    train_halfwidth: Sequence[float] | float = 0.0,
    final_epoch: int | None = None,
) -> list[StopOutcome]:
    """Where GL_alpha, PQ_alpha and UP_s would stop.

    Parameters
    ----------
    epochs : sequence of int
        1-based logged epochs (gaps allowed).
    val_error, train_error : sequence of float
        E_va and E_tr per logged epoch (positive).
    k : int, default 5
        Strip length.
    gl_alphas, pq_alphas, up_strips : sequences
        Criteria to evaluate (Prechelt's GL1-5, PQ0.5-3, UP2-8 by default).
    val_halfwidth, train_halfwidth : float or sequence
        Print half-widths of the errors.
    final_epoch : int, optional
        Length of the full run.

    Returns
    -------
    list of StopOutcome
        ``kept_epoch`` is the epoch of lowest validation error up to the stop.

    Examples
    --------
    >>> ep = [1, 2, 3, 4, 5, 75, 76, 77]
    >>> va = [0.4305, 0.3791, 0.3736, 0.4206, 0.3844, 0.9045, 0.9078, 0.9105]
    >>> tr = [0.5438, 0.3843, 0.3099, 0.2458, 0.2120, 0.0134, 0.0156, 0.0129]
    >>> out = prechelt_criteria(ep, va, tr, gl_alphas=[5], pq_alphas=[0.5], up_strips=[2], final_epoch=100)
    >>> [(o.rule, o.status, o.stop_epoch) for o in out]
    [('GL_5', 'stopped', 4), ('PQ_0.5', 'undetermined', None), ('UP_2', 'undetermined', None)]
    """
    ep = np.asarray(epochs, dtype=int)
    va = np.asarray(val_error, dtype=float)
    tr = np.asarray(train_error, dtype=float)
    hva = np.broadcast_to(np.asarray(val_halfwidth, dtype=float), va.shape)
    htr = np.broadcast_to(np.asarray(train_halfwidth, dtype=float), tr.shape)
    last = int(ep[-1]) if len(ep) else 0
    V = {int(e): (float(v), float(h)) for e, v, h in zip(ep, va, hva) if np.isfinite(v)}
    T = {int(e): (float(v), float(h)) for e, v, h in zip(ep, tr, htr) if np.isfinite(v)}
    gaps = missing_ranges(ep.tolist())

    def gl_interval(t: int) -> tuple[float, float] | str:
        """GL(t) as an interval, or why it is unknown."""
        for s in range(1, t + 1):
            if s not in V:
                return _why_missing(s, set(V), gaps, "val_loss")
        lows = [V[s][0] - V[s][1] for s in range(1, t + 1)]
        highs = [V[s][0] + V[s][1] for s in range(1, t + 1)]
        opt_lo, opt_hi = min(lows), min(highs)
        if opt_lo <= 0:
            return "GL needs a positive validation error"
        v, h = V[t]
        return max(0.0, 100 * ((v - h) / opt_hi - 1)), 100 * ((v + h) / opt_lo - 1)

    def progress_interval(t: int) -> tuple[float, float] | str:
        strip = range(t - k + 1, t + 1)
        for s in strip:
            if s not in T:
                return _why_missing(s, set(T), gaps, "loss")
        lo = [T[s][0] - T[s][1] for s in strip]
        hi = [T[s][0] + T[s][1] for s in strip]
        if min(lo) <= 0:
            return "P_k needs a positive training error"
        return max(0.0, 1000 * (np.mean(lo) / min(hi) - 1)), 1000 * (np.mean(hi) / min(lo) - 1)

    def rose(t: int) -> bool | None | str:
        if t - k < k:
            return False  # the first strip end has no earlier strip to compare with
        for s in (t, t - k):
            if s not in V:
                return _why_missing(s, set(V), gaps, "val_loss")
        (a, ha), (b, hb) = V[t], V[t - k]
        if a - ha > b + hb:
            return True
        if a + ha <= b - hb:
            return False
        return None

    def decide(name: str, test: Any, every: int) -> StopOutcome:
        for t in range(1, last + 1):
            if t % every:
                continue
            d = test(t)
            if isinstance(d, str):
                return StopOutcome(name, "undetermined", reason=d)
            if d is None:
                return StopOutcome(name, "undetermined", reason=f"at epoch {t} the decision depends on digits the log rounded away")
            if d:
                kept = min(range(1, t + 1), key=lambda s: V[s][0])
                return StopOutcome(name, "stopped", t, kept, None, final_epoch - t if final_epoch else None)
        if final_epoch is not None and last >= final_epoch and last > 0:
            kept = min(V, key=lambda s: V[s][0]) if V else None
            return StopOutcome(name, "completed", last, kept, None, 0)
        end = f"the log ends at epoch {last}" + (f" of {final_epoch}" if final_epoch else "")
        return StopOutcome(name, "undetermined", reason=f"{end} before the rule stops")

    def tri_gt(interval: tuple[float, float], alpha: float) -> bool | None:
        lo, hi = interval
        return True if lo > alpha else False if hi <= alpha else None

    out: list[StopOutcome] = []
    for alpha in gl_alphas:
        def gl_test(t: int, alpha: float = alpha) -> Any:
            g = gl_interval(t)
            return g if isinstance(g, str) else tri_gt(g, alpha)
        out.append(decide(f"GL_{alpha:g}", gl_test, 1))
    for alpha in pq_alphas:
        def pq_test(t: int, alpha: float = alpha) -> Any:
            g = gl_interval(t)
            if isinstance(g, str):
                return g
            p = progress_interval(t)
            if isinstance(p, str):
                return p
            lo = g[0] / p[1] if p[1] > 0 else (np.inf if g[0] > 0 else 0.0)
            hi = g[1] / p[0] if p[0] > 0 else np.inf
            return tri_gt((lo, hi), alpha)
        out.append(decide(f"PQ_{alpha:g}", pq_test, k))
    for s_count in up_strips:
        def up_test(t: int, s_count: int = s_count) -> Any:
            results = [rose(t - j * k) for j in range(s_count)]
            for r in results:
                if isinstance(r, str):
                    return r
            if any(r is False for r in results):
                return False
            return True if all(r is True for r in results) else None
        out.append(decide(f"UP_{s_count}", up_test, k))
    return out


def prechelt_table(run: Run, *, val: str = "val_loss", train: str = "loss", k: int = 5) -> pd.DataFrame:
    """:func:`prechelt_criteria` of a run, one row per criterion.

    Examples
    --------
    >>> from dynamics.run import Run, make_epoch_table
    >>> rows = {e: {"loss": 1 / e, "val_loss": 0.5 + abs(e - 4) / 10} for e in range(1, 11)}
    >>> prechelt_table(Run(make_epoch_table(rows))).loc["GL_5", "stop_epoch"]
    np.int64(5)
    """
    from dynamics.stats.precision import EXACT_FORMATS, print_halfwidth

    exact = run.meta.format in EXACT_FORMATS
    va, tr = run.series(val), run.series(train)
    out = prechelt_criteria(run.epochs.index.to_numpy(), va.to_numpy(), tr.to_numpy(), k=k,
                            val_halfwidth=np.nan_to_num(print_halfwidth(va.to_numpy(), exact=exact)),
                            train_halfwidth=np.nan_to_num(print_halfwidth(tr.to_numpy(), exact=exact)),
                            final_epoch=run.meta.epochs_declared)
    table = pd.DataFrame([o.to_dict() for o in out]).set_index("rule")
    for c in ("stop_epoch", "kept_epoch", "epochs_saved"):
        table[c] = table[c].astype("Int64")
    return table
