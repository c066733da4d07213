import json
import math

import numpy as np

from dynamics.findings import Finding
from dynamics.run import (
    Event,
    Predictions,
    Run,
    RunMeta,
    canonical_metric_name,
    make_epoch_table,
)


def test_canonical_names_fold_only_unambiguous_spellings():
    assert canonical_metric_name("acc") == "accuracy"
    assert canonical_metric_name("val_acc") == "val_accuracy"
    assert canonical_metric_name("lr") == "learning_rate"
    assert canonical_metric_name("mae") == "mae"
    assert canonical_metric_name("sparse_categorical_accuracy") == "sparse_categorical_accuracy"


def test_to_dict_is_strict_json_and_separates_absent_from_printed_nan():
    table = make_epoch_table({1: {"loss": 0.5, "val_loss": math.nan}, 2: {"loss": math.inf}, 4: {"loss": 0.25}})
    run = Run(table, RunMeta(printed_nan={"val_loss": [1]}), [Event(2, "early_stopping", "Epoch 2: early stopping")])
    data = run.to_dict()
    text = json.dumps(data, allow_nan=False)
    rows = json.loads(text)["epochs"]
    assert [r["epoch"] for r in rows] == [1, 2, 4]
    assert rows[0]["val_loss"] == "nan"
    assert "val_loss" not in rows[1]  # absent, not printed
    assert rows[1]["loss"] == "inf"
    assert data["events"][0]["epoch"] == 2


def test_train_val_pairs_skip_callback_keys_and_put_loss_first():
    table = make_epoch_table({1: {"accuracy": 0.5, "loss": 0.7, "val_accuracy": 0.4, "val_loss": 0.8, "learning_rate": 1e-3}})
    run = Run(table)
    assert run.train_val_pairs() == [("loss", "val_loss"), ("accuracy", "val_accuracy")]
    assert "learning_rate" not in run.metrics


def test_predictions_iterate_epoch_by_epoch():
    preds = Predictions(epochs=[1, 2], y_true=np.array([0, 1, 1]), proba=[np.array([0.2, 0.7, 0.4]), np.array([0.1, 0.9, 0.6])])
    assert preds.n_classes == 2 and preds.n_samples == 3
    assert [e for e, _ in preds] == [1, 2]
    assert preds.stacked().shape == (2, 3)


def test_finding_rejects_unknown_severity():
    import pytest

    with pytest.raises(ValueError, match="Received: severity='fatal'"):
        Finding("x", "fatal", "claim")
    assert Finding("x", "info", "c", {"p": float("nan")}).to_dict()["evidence"]["p"] == "nan"
