"""Simulated recorded runs: per-sample predictions without Keras (numpy only).

Tests, doctests, benchmarks and demos need recorded runs that exhibit each
story told for "val_acc flat, val_loss up" -- without training a model. Each
sample ``i`` has a latent margin ``mu_i`` (how well the model will come to
separate it; ``mu_i < 0``: it stays misclassified). At epoch ``t`` the logit of
its true class is

    h(t) * (r(t) * mu_i(t) + noise_it),

where ``r(t)`` ramps from 0 to 1 until the turning epoch ``b`` (learning),
``h(t)`` is 1 until ``b`` and then grows (sharpening), ``noise_it`` is fresh
Gaussian noise each epoch (what makes borderline samples flip) and
``mu_i(t)`` may drift after ``b``. The stories:

``overconfident``
    Logits sharpen after ``b`` (``h`` grows to 4): mistakes become confident
    (Guo et al. 2017; Mukhoti et al. 2020) and one temperature undoes it.
``minority``
    About 3% of the samples, drawn among the comfortably correct ones, drift
    steeply to the wrong side while the rest grow more confident (Venter et
    al. 2021).
``flipping``
    The per-epoch noise grows after ``b``: borderline samples flip back and
    forth and their loss rises.
``healthy``
    Learning goes on until the last epoch: no rise.

k-class runs give the other classes fixed random logits. ``label_noise``
flips the recorded label of a fraction of samples (the predictions follow the
clean label), which makes them persistently, confidently "wrong".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dynamics.errors import ArgumentError, InputError
from dynamics.run import Predictions, Run, RunMeta, make_epoch_table

#: The stories :func:`simulate_predictions` can tell, with their parameters.
STORIES: dict[str, dict[str, float]] = {
    "overconfident": {"sharpen": 3.0, "noise": 0.15, "noise_growth": 0.0, "minority": 0.0, "drift": 0.0, "improve": 0.0},
    "minority": {"sharpen": 0.0, "noise": 0.15, "noise_growth": 0.0, "minority": 0.03, "drift": 9.0, "improve": 0.3},
    "flipping": {"sharpen": 0.0, "noise": 0.3, "noise_growth": 1.5, "minority": 0.0, "drift": 0.0, "improve": 0.0},
    "healthy": {"sharpen": 0.0, "noise": 0.15, "noise_growth": 0.0, "minority": 0.0, "drift": 0.0, "improve": 0.0},
}


def _check(story: str, n: int, epochs: int, classes: int, label_noise: float) -> dict[str, float]:
    if story not in STORIES:
        raise ArgumentError(f"story must be one of {sorted(STORIES)}. Received: story={story!r}")
    if n < 2:
        raise ArgumentError(f"n must be >= 2. Received: n={n}")
    if epochs < 2:
        raise ArgumentError(f"epochs must be >= 2. Received: epochs={epochs}")
    if classes < 2:
        raise ArgumentError(f"classes must be >= 2. Received: classes={classes}")
    if not 0 <= label_noise < 1:
        raise ArgumentError(f"label_noise must be in [0, 1). Received: label_noise={label_noise}")
    return STORIES[story]


def epoch_arrays(
    story: str = "overconfident",
    *,
    n: int = 2000,
    epochs: int = 30,
    classes: int = 2,
    seed: int = 0,
    label_noise: float = 0.0,
    margin: tuple[float, float] = (1.2, 1.3),
    turn: int | None = None,
    dtype: Any = np.float16,
) -> tuple[np.ndarray, Iterator[np.ndarray]]:
    """The labels and a generator of per-epoch probability arrays.

    Only one epoch is in memory at a time, so a million samples by a hundred
    epochs can be written to disk as they are generated.

    Parameters
    ----------
    story : str
        One of :data:`STORIES`.
    n, epochs, classes : int
        Samples, epochs, classes (2: sigmoid output of shape (n,)).
    seed : int
    label_noise : float
        Fraction of recorded labels flipped to another class.
    margin : (float, float)
        Mean and sd of the latent margins (accuracy about
        ``Phi(mean / sd)``; 0.82 by default, like the IMDB LSTM).
    turn : int, optional
        The turning epoch ``b`` (default ``max(2, epochs // 5)``).
    dtype : numpy dtype
        Of the probability arrays: float16 by default (compact, and the
        float16 fast paths of the statistics apply; run directories of run
        format 1 held such arrays), float32 for the model's own precision.

    Returns
    -------
    (y_true, generator)

    Examples
    --------
    >>> y, arrays = epoch_arrays("healthy", n=5, epochs=3)
    >>> [a.shape for a in arrays]
    [(5,), (5,), (5,)]
    """
    params = _check(story, n, epochs, classes, label_noise)
    rng = np.random.default_rng(seed)
    b = max(2, epochs // 5) if turn is None else int(turn)
    if story == "healthy":
        b = epochs
    clean = rng.integers(0, classes, n)
    mu = rng.normal(margin[0], margin[1], n)
    others = rng.normal(0.0, 1.0, (n, classes - 1)) if classes > 2 else None
    # The drifting minority is drawn from comfortably correct samples (mu > 1),
    # so it is still right at the turning epoch.
    minority = (rng.random(n) < params["minority"] / max(np.mean(mu > 1.0), 1e-9)) & (mu > 1.0)
    y = clean.copy()
    noisy = rng.random(n) < label_noise
    y[noisy] = (clean[noisy] + rng.integers(1, classes, int(noisy.sum()))) % classes

    def generate() -> Iterator[np.ndarray]:
        for t in range(1, epochs + 1):
            ramp = min(1.0, t / b)
            late = max(0.0, (t - b) / max(1, epochs - b))
            h = 1.0 + params["sharpen"] * late
            m = mu.copy()
            if params["drift"]:
                m[minority] -= params["drift"] * late
            if params["improve"]:
                m[~minority & (mu > 0)] *= 1.0 + params["improve"] * late
            tau = params["noise"] * (1.0 + params["noise_growth"] * late)
            z = h * (ramp * m + tau * rng.standard_normal(n))
            yield _to_proba(z, clean, others, h * ramp, classes).astype(dtype)

    return y, generate()


def _to_proba(z: np.ndarray, clean: np.ndarray, others: np.ndarray | None, scale: float, classes: int) -> np.ndarray:
    """True-class margins -> P(class 1) (binary) or softmax rows (k classes)."""
    if classes == 2:
        logit = np.where(clean == 1, z, -z)
        return 1.0 / (1.0 + np.exp(-logit))
    n = z.shape[0]
    logits = np.empty((n, classes))
    # Other classes get fixed random logits; the true class sits z above their max.
    cols = (clean[:, None] + np.arange(1, classes)[None, :]) % classes
    logits[np.arange(n)[:, None], cols] = scale * others
    logits[np.arange(n), clean] = scale * others.max(axis=1) + z
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def simulate_predictions(story: str = "overconfident", **kwargs: Any) -> Predictions:
    """A :class:`~dynamics.run.Predictions` telling ``story`` (see :func:`epoch_arrays`).

    Examples
    --------
    >>> p = simulate_predictions("minority", n=100, epochs=4, classes=3)
    >>> len(p), p.n_classes, p.proba[0].dtype
    (4, 3, dtype('float16'))
    """
    y, arrays = epoch_arrays(story, **kwargs)
    proba = list(arrays)
    return Predictions(np.arange(1, len(proba) + 1), y, proba, np.arange(y.shape[0]))


def simulate_run(
    story: str = "overconfident",
    *,
    n: int = 2000,
    epochs: int = 30,
    classes: int = 2,
    seed: int = 0,
    label_noise: float = 0.0,
    n_train: int = 500,
) -> Run:
    """A recorded :class:`~dynamics.run.Run`: validation and training-subset predictions.

    The epoch table holds ``loss``/``accuracy`` of the training subset and
    ``val_loss``/``val_accuracy`` of the validation predictions, computed
    with Keras's formulas from these (float16) probabilities. The
    training subset always learns (story ``healthy`` with larger margins).

    Examples
    --------
    >>> run = simulate_run("overconfident", n=300, epochs=6)
    >>> list(run.epochs.columns), run.meta.n_val
    (['loss', 'accuracy', 'val_loss', 'val_accuracy'], 300)
    """
    from dynamics.stats.views import iter_views

    val = simulate_predictions(story, n=n, epochs=epochs, classes=classes, seed=seed, label_noise=label_noise)
    train = simulate_predictions(
        "healthy", n=n_train, epochs=epochs, classes=classes, seed=seed + 10_000, margin=(2.5, 1.5)
    )
    rows: dict[int, dict[str, float]] = {}
    for prefix, preds in (("", train), ("val_", val)):
        for view in iter_views(preds):
            row = rows.setdefault(view.epoch, {})
            row[prefix + "loss"] = float(view.loss.mean())
            row[prefix + "accuracy"] = float(view.correct.mean())
    meta = RunMeta(
        source=f"simulated:{story}",
        format="recorded",
        n_train=n_train,
        n_val=n,
        epochs_declared=epochs,
        classes=classes,
        extra={"story": story, "seed": seed, "label_noise": label_noise},
    )
    return Run(make_epoch_table(rows), meta, predictions=val, train_predictions=train)


def save_npy(y_true: Any, arrays: Iterator[np.ndarray], directory: str | Path) -> Path:
    """Write labels and per-epoch arrays as ``.npy`` files, one epoch at a time.

    Files: ``y_true.npy`` and ``proba_0001.npy``, ``proba_0002.npy``, ... (a
    plain layout for tests and benchmarks, not the recorder's run directory).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "y_true.npy", np.asarray(y_true))
    for epoch, arr in enumerate(arrays, start=1):
        np.save(directory / f"proba_{epoch:04d}.npy", arr)
    return directory


def load_npy(directory: str | Path) -> Predictions:
    """Read a :func:`save_npy` folder with every epoch memory-mapped (read-only)."""
    directory = Path(directory)
    files = sorted(directory.glob("proba_*.npy"))
    if not (directory / "y_true.npy").exists() or not files:
        raise InputError(f"{directory} holds no y_true.npy and proba_*.npy files")
    epochs = [int(f.stem.split("_")[1]) for f in files]
    proba = [np.load(f, mmap_mode="r") for f in files]
    return Predictions(np.array(epochs), np.load(directory / "y_true.npy"), proba)
