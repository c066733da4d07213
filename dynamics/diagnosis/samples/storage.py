"""Float16 probabilities of a binary model: what they leave unknown about the loss.

See :mod:`dynamics.stats.storage`. Run directories written before log-space
storage (run format 1) hold raw float16 probabilities, as may predictions
built by hand. The finding (``stored_precision``) compares the val_loss
Keras logged with the one recomputed from the stored predictions and with
the range the stored values allow, and says when the per-sample numbers
overstate the most confident mistakes. Predictions stored in log space (the
recorder's default now) or as float32 are read as float32 probabilities and
get no finding: they keep every loss to within 0.008 nats.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dynamics.diagnosis.context import Context
from dynamics.diagnosis.wording import listing
from dynamics.findings import Finding

PREFIX = "samples_"
#: Recomputed and logged val_loss differ "materially" beyond this relative gap.
STORAGE_GAP = 0.01


def storage_finding(ctx: Context, a: Any, predictions: Any) -> Finding | None:
    """``stored_precision``: how far float16 probabilities leave the loss of a binary model unknown, epoch by epoch.

    Only for predictions held as raw float16 probabilities (their arrays
    are float16); decoded log-space storage is float32 and exact enough.
    """
    from dynamics.stats.storage import FLOAT16_TOP, stored_loss

    if a.n_classes != 2 or not len(predictions) or np.asarray(predictions.proba[0]).dtype != np.float16:
        return None
    logged = ctx.run.series("val_loss") if ctx.run.has("val_loss") else pd.Series(dtype=float)
    rows = {}
    y = predictions.y_true
    for epoch, proba in predictions:
        st = stored_loss(proba, y)
        rows[epoch] = {**st._asdict(), "logged": float(logged.get(epoch, math.nan))}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "epoch"
    table["gap"] = table["stored_mean"] - table["logged"]
    tol = 1e-6 * table["logged"].abs() + 1e-6
    table["logged_within"] = (table["logged"] >= table["low"] - tol) & (table["logged"] <= table["high"] + tol)
    ctx.tables[PREFIX + "storage"] = table
    ctx.facts.stored_loss = table
    worst = table["gap"].abs().idxmax() if table["gap"].notna().any() else int(table["saturated"].idxmax())
    if table["saturated"].max() == 0 and not (table["gap"].abs() > STORAGE_GAP * table["logged"]).any():
        return None
    w = table.loc[worst]
    material = bool((table["gap"].abs() > STORAGE_GAP * table["logged"]).any())
    sat = table[table["saturated"] > 0]
    claim = (f"The predictions are stored as float16 probabilities (as dynamics recorded them before storing "
             f"float16 logits), which round every probability above {FLOAT16_TOP + 2**-12:.5f} "
             f"to 1: at {len(sat)} of the {len(table)} recorded epochs some validation samples of class 0 are stored "
             f"with P(class 1) = 1.0 (at epoch {int(worst)}: {int(w['saturated'])}), so their loss, anything from 8.32 "
             "to 15.94 nats, is recomputed as 15.94.")
    if math.isfinite(w["logged"]):
        within = "which contains" if w["logged_within"] else "which does not contain"
        claim += (f" Recomputed from the stored values val_loss is {w['stored_mean']:.4f} at epoch {int(worst)} where "
                  f"Keras logged {w['logged']:.4f}; the stored values allow any mean from {w['low']:.4f} to "
                  f"{w['high']:.4f}, {within} the logged value.")
        if not bool(table["logged_within"].all()):
            bad = [int(e) for e in table.index[~table["logged_within"]] if math.isfinite(table.at[e, "logged"])]
            if bad:
                claim += (f" At epoch{'s' if len(bad) > 1 else ''} {listing([str(e) for e in bad])} the logged val_loss "
                          "lies outside what the stored values allow: something besides storage differs (sample "
                          "weights, a loss term, another validation set).")
    if material:
        claim += (" The per-sample numbers of this run (shares of the rise, the mistakes' mean loss, temperature "
                  "scaling) come from the stored values and overstate the loss of the most confident mistakes.")
    kinds = {"logged_within": bool, "saturated": int}
    evidence = {"epochs": {int(e): {k: kinds.get(k, float)(v) for k, v in r.items()}
                           for e, r in table.iterrows()},
                "worst_epoch": int(worst), "threshold": STORAGE_GAP}
    if material:
        ctx.offer_verdict(13, f"Caution: the predictions are stored as float16 probabilities, which overstate the most "
                              f"confident mistakes: val_loss recomputed from them is {w['stored_mean']:.4f} at epoch "
                              f"{int(worst)} against {w['logged']:.4f} logged; record again with the current default "
                              f"(float16 logits) for exact per-sample numbers.",
                          key="storage")
    return Finding("stored_precision", "warning" if material else "info", claim, evidence,
                   "Record again with this version of dynamics: its default stores float16 logits, which keep every "
                   "sample's loss to 0.008 nats (or float32 probabilities: dynamics train --float32, "
                   "PredictionRecorder(..., dtype=\"float32\")).",
                   "samples")
