"""Simulated epoch tables with a planted pattern, for checking the curve classifiers against known truth.

Each story draws one run's per-epoch numbers as a Keras log would print them
(4 decimals): validation loss and accuracy from a planted shape plus noise,
the accuracy as a whole count of ``n_val`` samples. The stories and the
pattern each plants:

``overfitting``
    val_loss falls to a minimum at a random epoch, then rises steadily by
    30-150 % while the training loss keeps falling (``overfitting``).
``plateau``
    val_loss is pure noise around a constant level (``plateau``).
``spikes``
    An improving val_loss with a few multiplicative spikes, the last epoch
    always among them (never ``overfitting``).
``improving``
    A val_loss that falls until the last epoch (``improving``).
``chance``
    A binary model at chance: val_accuracy a binomial draw around 0.5,
    val_loss above ln 2 (``chance_level``).
``collapse``
    One class predicted: val_accuracy frozen at the majority share, val_loss
    at that share's entropy, training accuracy frozen too (``stuck_one_class``).
``divergence``
    The loss becomes NaN at a random epoch (``diverged``).

Rates measured with these stories are in ``docs/verdicts.md``.
"""

from __future__ import annotations

import math

import numpy as np

from dynamics.run import Run, RunMeta, make_epoch_table

STORIES = ("overfitting", "plateau", "spikes", "improving", "chance", "collapse", "divergence")


def _r4(x: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(x, dtype=float), 4)


def simulate_curve_run(story: str, *, seed: int = 0, epochs: int | None = None, n_val: int = 2500) -> Run:
    """One run of ``story`` (see the module docstring) as a printed-log Run.

    Examples
    --------
    >>> run = simulate_curve_run("overfitting", seed=1)
    >>> run.meta.n_val, "val_loss" in run.metrics
    (2500, True)
    """
    if story not in STORIES:
        from dynamics.errors import ArgumentError

        raise ArgumentError(f"story must be one of {STORIES}. Received: story={story!r}")
    rng = np.random.default_rng(seed)
    n = int(epochs or rng.integers(12, 40))
    t = np.arange(1, n + 1, dtype=float)
    train = 0.7 * np.exp(-t / rng.uniform(3, 10)) + 0.02 + 0.003 * rng.standard_normal(n)
    level = rng.uniform(0.25, 0.6)
    noise = rng.uniform(0.005, 0.02) * level  # relative epoch-to-epoch noise
    printed_nan: list[int] = []
    p_acc = None
    train_acc = np.clip(1 - train / 1.4, 0, 1)
    if story == "overfitting":
        b = int(rng.integers(3, max(4, n - 6)))
        fall = level + 0.4 * np.exp(-(t - 1) / 2)
        rise = rng.uniform(0.3, 1.5) * level * np.clip((t - b) / (n - b), 0, None) ** rng.uniform(0.8, 1.5)
        val = np.where(t <= b, fall, fall[b - 1] + rise) + noise * rng.standard_normal(n)
        p_acc = 0.85 - 0.02 * np.clip((t - b) / (n - b), 0, None)
    elif story == "plateau":
        val = level + noise * rng.standard_normal(n)
        train = 0.3 + 0.003 * rng.standard_normal(n)
        p_acc = np.full(n, 0.8)
    elif story in ("spikes", "improving"):
        val = level + 0.5 * np.exp(-(t - 1) / rng.uniform(3, 8)) + noise * rng.standard_normal(n)
        val = val - 0.002 * t  # still falling at the end
        if story == "spikes":
            k = int(rng.integers(2, 5))
            at = np.unique(np.r_[rng.choice(np.arange(2, n - 1), size=k, replace=False), n - 1])
            val[at] *= rng.uniform(1.5, 3.0, size=len(at))
        p_acc = 0.7 + 0.15 * (1 - np.exp(-t / 4))
    elif story == "chance":
        val = math.log(2) + rng.uniform(0.001, 0.05) + 0.002 * np.abs(rng.standard_normal(n))
        p_acc = np.full(n, 0.5)
    elif story == "collapse":
        share = rng.uniform(0.6, 0.9)
        prior = -(share * math.log(share) + (1 - share) * math.log(1 - share))
        val = prior + 0.3 * np.exp(-t / 2) + 0.0005 * rng.standard_normal(n)
        acc = np.full(n, round(share * n_val) / n_val)
        train_acc = np.full(n, round(share, 4))
        train = val + 0.01
    else:  # divergence
        val = level + 0.4 * np.exp(-(t - 1) / 3) + noise * rng.standard_normal(n)
        k = int(rng.integers(3, n))
        val[k - 1:] = np.nan
        train[k - 1:] = np.nan
        printed_nan = list(range(k, n + 1))
        p_acc = np.full(n, 0.8)
    if p_acc is not None:
        acc = rng.binomial(n_val, np.clip(p_acc, 0, 1)) / n_val
    if story == "divergence":
        acc = np.where(np.isnan(val), 0.0, acc)  # Keras prints 0 accuracy once the outputs are NaN
    rows = {int(e): {"loss": float(a), "accuracy": float(b), "val_loss": float(c), "val_accuracy": float(d)}
            for e, a, b, c, d in zip(t, _r4(train), _r4(train_acc), _r4(val), _r4(acc))}
    meta = RunMeta(source=f"simulated:{story}:{seed}", n_val=n_val, epochs_declared=n, format="progbar",
                   printed_nan={"loss": printed_nan, "val_loss": printed_nan} if printed_nan else {})
    return Run(make_epoch_table(rows), meta)
