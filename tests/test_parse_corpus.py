"""Every shipped real log parses to exactly the rows its manifest records."""

from __future__ import annotations

import math

import pytest

from conftest import CORPUS, SEED_LOG, corpus_manifest
from dynamics.errors import NoEpochsError
from dynamics.sources.io import load_runs

ENTRIES = corpus_manifest()


def _row(run, position: int) -> dict:
    epoch = int(run.epochs.index[position])
    row = run.epochs.iloc[position]
    printed = {column: name for column, name in run.meta.metric_names.items()}
    out = {"epoch": epoch}
    for column, value in row.items():
        if math.isnan(value) and epoch not in run.meta.printed_nan.get(column, []):
            continue  # absent, not printed
        out[printed[column]] = "nan" if math.isnan(value) else ("inf" if value == math.inf else value)
    return out


def _expected(entry_row: dict, csv: bool) -> dict:
    row = dict(entry_row)
    if csv:
        row["epoch"] += 1  # CSVLogger writes the 0-based hook index; dynamics shows 1-based epochs
    return row


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"].split("/")[-1][:3] for e in ENTRIES])
def test_corpus_log_parses_to_manifest(entry):
    path = CORPUS / entry["file"]
    if entry["epoch_rows"] == 0:
        with pytest.raises(NoEpochsError, match="no complete training epoch"):
            load_runs(path)
        return
    runs = load_runs(path)
    csv = runs[0].meta.format == "csvlogger"
    assert sum(len(run.epochs) for run in runs) == entry["epoch_rows"]
    assert _row(runs[0], 0) == _expected(entry["first_epoch"], csv)
    assert _row(runs[-1], -1) == _expected(entry["last_epoch"], csv)
    assert list(runs[0].meta.metric_names.values()) == entry["metric_names"]
    assert runs[0].meta.n_train == entry["n_train"]
    assert runs[0].meta.n_val == entry["n_val"]
    declared = {run.meta.epochs_declared for run in runs}
    assert (declared.pop() if len(declared) == 1 else None) == entry["epochs_declared"]


def test_seed_log_has_the_elided_gap_and_sizes():
    (run,) = load_runs(SEED_LOG)
    assert list(run.epochs.index) == [1, 2, 3, 4, 5, 75, 76, 77]
    assert run.meta.epochs_declared == 100
    assert (run.meta.n_train, run.meta.n_val) == (22500, 2500)
    assert run.meta.elided == [(6, 74)]
    assert run.meta.inferred_epochs == []
    assert run.epochs.loc[77, "val_loss"] == 0.9105
    assert run.epochs.loc[3, "val_loss"] == 0.3736
    assert run.meta.era == "keras1" and run.meta.verbose == 1
    assert run.timing.loc[1, "seconds"] == 236.0


def test_corpus_traps_are_read_as_the_notes_say():
    by_number = {e["file"].split("/")[-1][:3]: CORPUS / e["file"] for e in ENTRIES}
    # 019: collapsed into one line, first row inferred from the next header.
    (run,) = load_runs(by_number["019"])
    assert run.meta.inferred_epochs == [26] and run.epochs.loc[28, "val_loss"] == 1.1921e-07
    # 030: glued "Epoch 1/1000" is not an epoch; nan printed.
    (run,) = load_runs(by_number["030"])
    assert list(run.epochs.index) == [308, 309, 310]
    assert run.meta.printed_nan == {"loss": [309, 310], "val_loss": [309, 310]}
    # 032: the full-bar "ETA: 0s" line is not a row; lr is a callback key.
    (run,) = load_runs(by_number["032"])
    assert run.metrics == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert run.meta.metric_names["learning_rate"] == "lr" and run.meta.era == "tfkeras"
    # 040: interrupted inside epoch 12.
    (run,) = load_runs(by_number["040"])
    assert run.meta.interrupted_epoch == 12 and run.events[-1].kind == "interrupted"
    # 042: two fit(epochs=1) runs.
    runs = load_runs(by_number["042"])
    assert [list(r.epochs.index) for r in runs] == [[1], [1]] and [r.meta.run_index for r in runs] == [0, 1]
    # 046: three runs, the evaluate() line is not an epoch.
    runs = load_runs(by_number["046"])
    assert [len(r.epochs) for r in runs] == [3, 5, 3]
    assert [r.meta.epochs_declared for r in runs] == [3, 5, 3]
    # 038: steps, not samples.
    (run,) = load_runs(by_number["038"])
    assert (run.meta.steps_train, run.meta.steps_val, run.meta.n_train) == (4414, 63, None)
    assert [(e.epoch, e.kind, e.value) for e in run.events] == [(1, "lr_set", 1e-06), (2, "lr_set", 3.142857142857143e-06)]
    # 044: Keras 3 early stopping then restore of epoch 6.
    (run,) = load_runs(by_number["044"])
    assert [(e.epoch, e.kind) for e in run.events] == [(8, "early_stopping"), (6, "restored_best_weights")]
    # 048: checkpoint events 1-based, lr reduced at 7 while the row still shows the old rate.
    (run,) = load_runs(by_number["048"])
    reduced = [e for e in run.events if e.kind == "lr_reduced"]
    assert [(e.epoch, e.value) for e in reduced] == [(7, 0.00010000000474974513)]
    assert run.epochs.loc[7, "learning_rate"] == 0.001 and run.epochs.loc[8, "learning_rate"] == 1e-4
    assert run.meta.era == "keras3" and run.meta.verbose == 2
    # 013: checkpoint messages before the rows, 1-based (Keras 2.0.9-2.1).
    (run,) = load_runs(by_number["013"])
    assert [e.epoch for e in run.events] == [1, 2, 3, 4, 5]
    assert run.events[-1].kind == "checkpoint_not_improved" and run.events[-1].value is None
