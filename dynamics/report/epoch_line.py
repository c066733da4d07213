"""One line per epoch for a terminal: where val_loss stands and whether the val_accuracy move is noise.

:class:`dynamics.keras.live.LiveDiagnosis` prints it after each epoch. Every part
is read from the :class:`~dynamics.diagnose.Diagnosis` of the run so far --
the ``best_epochs`` finding; for val_accuracy, the first that exists of the
``samples_mcnemar`` table (recorded predictions: McNemar's test on the
samples that flipped since the previous epoch), the ``val_accuracy_spread``
finding (variance ratio against binomial noise since the best epoch) and
the ``val_accuracy_changes`` table (the fewest samples a logged change
implies, and the smallest McNemar p that many could give) -- so the line
never disagrees with the report.
"""

from __future__ import annotations

import math
from typing import Any

#: A change is "within noise" when even the most one-sided flips could not reach this p.
ALPHA = 0.05


def _loss_part(d: Any, last: int) -> str | None:
    best = d.get("best_epochs")
    if best is None or not isinstance(best.evidence.get("val_loss"), dict):
        return None
    b = best.evidence["val_loss"]
    epoch, value = int(b["epoch"]), float(b["value"])
    if epoch == last:
        return f"val_loss {value:.4f} at its best"
    behind = last - epoch
    return f"val_loss {behind} epoch{'s' if behind != 1 else ''} above its best (epoch {epoch}, {value:.4f})"


def _accuracy_part(d: Any, last: int, n_val: int | None, inferred: bool) -> str | None:
    name = d.column("val_accuracy")
    if name is None:
        return None
    if n_val is None:
        return f"{name}: noise unknown (n_val unknown; pass n_val=)"
    of = f"{n_val:,} samples" + (" (n_val inferred)" if inferred else "")
    flips = d.tables.get("samples_mcnemar")  # recorded predictions: the flips are counted, not bounded
    if flips is not None and len(flips) and int(flips.index[-1]) == last:
        row = flips.iloc[-1]
        where = "beyond" if float(row["p_value"]) < ALPHA else "within"
        return (f"{name}: {int(row['right_to_wrong'])} of {n_val:,} samples went right -> wrong, "
                f"{int(row['wrong_to_right'])} wrong -> right, {where} chance (McNemar p = {float(row['p_value']):.2g})")
    spread = d.get("val_accuracy_spread")
    if spread is not None and spread.evidence.get("p_value") is not None:
        since = spread.evidence.get("after_epoch")
        p = float(spread.evidence["p_value"])
        if not math.isfinite(p):
            return f"{name} did not move since epoch {since}"
        where = "within" if p >= ALPHA else "beyond"
        return f"{name} spread since epoch {since} {where} noise of {of} (p = {p:.2g})"
    changes = d.tables.get("val_accuracy_changes")
    if changes is not None and len(changes) and int(changes["to_epoch"].iloc[-1]) == last:
        row = changes.iloc[-1]
        k = int(row["min_changed"])
        if float(row["mcnemar_min_p"]) >= ALPHA:
            return f"{name} change within noise of {of} (net change {k})"
        return f"{name} changed by at least {k} of {of}: a log cannot tell if beyond noise"
    return None


def epoch_line(d: Any) -> str:
    """The line of the last epoch in a diagnosis of the run so far.

    Examples
    --------
    >>> from dynamics.diagnose import diagnose
    >>> from dynamics.run import Run, make_epoch_table
    >>> acc = [0.7, 0.75, 0.8, 0.8008, 0.8004, 0.8]
    >>> rows = {e: {"loss": 1 / e, "val_loss": 0.4 + abs(e - 3) / 20, "val_accuracy": a} for e, a in enumerate(acc, 1)}
    >>> epoch_line(diagnose(Run(make_epoch_table(rows)), n_val=2500))
    'epoch 6: val_loss 3 epochs above its best (epoch 3, 0.4000); val_accuracy change within noise of 2,500 samples (net change 1)'
    """
    epochs = d.run.epochs.index
    last = int(epochs[-1]) if len(epochs) else 0
    n_val = d.context.get("n_val")
    inferred = d.context.get("n_val_source") == "inferred"
    parts = [p for p in (_loss_part(d, last), _accuracy_part(d, last, n_val, inferred)) if p]
    return f"epoch {last}: " + ("; ".join(parts) if parts else "no validation metrics in the logs")
