"""Findings: epochs where the training loss went up, set against the loss scale."""

from __future__ import annotations

import math

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import num, signed, signed_pct
from dynamics.findings import Finding
from dynamics.stats.fluctuations import run_loss_rises

_WHY = ("Keras's training loss is the mean over the epoch's mini-batches, with dropout active and the weights "
        "changing as it goes")


def produce(ctx: Context) -> list[Finding]:
    """Rises of the training loss between consecutive epochs, against the loss scale."""
    run = ctx.run
    if not run.has("loss"):
        return []
    rises = run_loss_rises(run)
    ctx.tables["loss_rises"] = rises
    s = run.series("loss").dropna()
    pairs = sum(1 for a, b in zip(s.index[:-1], s.index[1:]) if b == a + 1)
    if rises.empty:
        if pairs >= 2:
            return [Finding("training_loss_monotone", "info",
                            f"Training loss fell (or stayed within print rounding) at every one of the {pairs} pairs of "
                            "consecutive logged epochs.", {"pairs": pairs}, None, "training_loss")]
        return []
    initial_epoch, initial = int(s.index[0]), float(s.iloc[0])
    out = []
    order = rises.sort_values("rise_pct", ascending=False)
    shown = order.head(3)
    parts = []
    unstable = False
    for epoch, r in shown.iterrows():
        epoch = int(epoch)
        text = (f"at epoch {epoch} from {num(r.previous)} to {num(r.value)} ({signed(r.rise)}, {signed_pct(r.rise_pct)})")
        if not math.isnan(r.recovered_at):
            text += f", back to {num(s.loc[int(r.recovered_at)])} by epoch {int(r.recovered_at)}"
        text += f"; the rise is {r.pct_of_initial:.1f}% of the epoch-{initial_epoch} loss {num(initial)}"
        acc = ctx.accuracy
        if acc and run.has(acc) and epoch - 1 in run.epochs.index:
            da = run.epochs.at[epoch, acc] - run.epochs.at[epoch - 1, acc]
            if not math.isnan(da):
                count = f" (about {abs(round(da * run.meta.n_train))} of {run.meta.n_train} samples)" if run.meta.n_train else ""
                text += f", while {acc} {'fell' if da < 0 else 'rose'} {abs(100 * da):.2f} points{count}"
        parts.append(text)
        if r.pct_of_initial > 10 or (r.rise_pct > 50 and r.pct_of_decrease > 25):
            unstable = True
    n = len(rises)
    head = f"Training loss rose at {n} of {pairs} pairs of consecutive logged epochs: " if n > 1 else "Training loss rose "
    claim = head + "; ".join(parts) + "."
    recovered = bool(shown["recovered_at"].notna().all())
    if unstable:
        claim += (f" Rises this large against the loss scale mean the optimisation is unstable. {_WHY}, but that "
                  "does not explain rises of this size.")
        suggestion = "Lower the learning rate (or use ReduceLROnPlateau), or clip gradients (clipnorm=1.0)."
        severity = "warning"
    elif recovered:
        claim += (f" {_WHY}, so rises this small against the loss scale, undone within a few epochs, are mini-batch "
                  "noise, not a change of course.")
        suggestion = None
        severity = "info"
    else:
        claim += (f" {_WHY}, which makes small rises ordinary, but the log ends before the loss came back down, so "
                  "whether this one was noise or a turn cannot be told.")
        suggestion = None
        severity = "info"
    evidence = {"rises": {int(e): {k: (None if isinstance(v, float) and math.isnan(v) else float(v)) for k, v in r.items()}
                          for e, r in rises.iterrows()}, "initial_loss": initial, "pairs": pairs}
    out.append(Finding("training_loss_rises", severity, claim, evidence, suggestion, "training_loss"))
    return out
