"""Histories saved or printed through pandas, and tables pasted among prose.

pandas itself is the printer here: random histories go through
``DataFrame.to_csv`` / ``to_json`` / ``str(df)`` exactly as a user's script
would, and must come back as the same epoch table (at the precision pandas
printed).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dynamics.errors import NoEpochsError
from dynamics.sources.io import load_runs, parse_text

NAMES = ["loss", "accuracy", "val_loss", "val_accuracy", "mae", "val_mae", "lr", "auc_1", "precision"]

values = st.one_of(st.floats(0, 2), st.floats(1e-9, 1e-3), st.floats(1e3, 1e9), st.just(math.nan))


@st.composite
def histories(draw):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    if not any("loss" in n or "acc" in n or n.startswith("val_") for n in names):
        names.append("loss")
    n = draw(st.integers(1, 30))
    history = {name: [draw(values) for _ in range(n)] for name in names}
    for name in names:  # a column of NaN only is not what a History holds
        if all(math.isnan(v) for v in history[name]):
            history[name][0] = 0.5
    return history


def _check(run, history, *, rtol=0.0, atol=0.0):
    canonical = {"acc": "accuracy", "val_acc": "val_accuracy", "lr": "learning_rate"}
    n = len(next(iter(history.values())))
    assert list(run.epochs.index) == list(range(1, n + 1))
    for name, column in history.items():
        got = run.epochs[canonical.get(name, name)].to_numpy()
        want = np.asarray(column, dtype=float)
        assert np.array_equal(np.isnan(got), np.isnan(want)), name
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=rtol, atol=atol)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.sampled_from([",", ";", "\t"]), st.booleans(), st.booleans(), st.booleans())
def test_to_csv_with_or_without_the_index(history, sep, index, crlf, bom):
    text = pd.DataFrame(history).to_csv(sep=sep, index=index, lineterminator="\r\n" if crlf else "\n")
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    (run,) = load_runs(data)
    _check(run, history)
    assert run.meta.format == "csv"
    assert run.meta.inferred_epochs == ([] if index else list(run.epochs.index))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.sampled_from(["columns", "index", "split", "records", "table", "lines"]))
def test_to_json_in_every_orient(history, orient):
    df = pd.DataFrame(history)
    # (one JSON line alone is one dict of numbers: evaluate()'s output as much as an epoch's)
    assume(orient != "lines" or len(df) > 1)
    text = df.to_json(orient="records", lines=True) if orient == "lines" else df.to_json(orient=orient, double_precision=15)
    (run,) = load_runs(text.encode())
    _check(run, history, rtol=1e-9, atol=1e-10 if orient == "lines" else 1e-14)  # pandas writes 10 or 15 decimals
    assert run.meta.format == "history-json"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.sampled_from(["plain", "prose", "quoted", "indented"]))
def test_a_printed_dataframe_among_prose(history, wrapping):
    df = pd.DataFrame(history)
    with pd.option_context("display.max_rows", 1000, "display.max_columns", 100, "display.width", 1000):
        table = str(df)
    if wrapping == "prose":
        table = "My history after model.fit:\n\n```\n" + table + "\n```\nWhy is val_loss like this?\n"
    elif wrapping == "quoted":
        table = "\n".join("> " + line for line in table.splitlines())
    elif wrapping == "indented":
        table = "\n".join("    " + line for line in table.splitlines())
    (run,) = parse_text(table + "\n")
    assert run.meta.format == "table"
    # pandas prints 6 decimals, or 6 after the point in scientific notation
    _check(run, history, rtol=1e-5, atol=5e-7)


def test_a_long_dataframe_elides_its_middle_rows_as_a_gap():
    df = pd.DataFrame({"loss": np.linspace(1, 0.1, 100), "val_loss": np.linspace(1, 0.5, 100)})
    with pd.option_context("display.max_rows", 10):
        text = "Here:\n" + str(df) + "\n"
    (run,) = parse_text(text)
    assert list(run.epochs.index) == [1, 2, 3, 4, 5, 96, 97, 98, 99, 100]
    assert run.meta.elided == [(6, 95)]
    assert run.epochs.loc[100, "loss"] == pytest.approx(0.1)
    assert any("100 rows" in note for note in run.meta.notes)


def test_a_wide_dataframe_elides_columns_or_wraps_them_into_blocks():
    df = pd.DataFrame({name: [0.5, 0.4] for name in ["loss", "accuracy", "auc", "precision", "recall", "val_loss", "val_accuracy"]})
    with pd.option_context("display.max_columns", 4):
        (run,) = parse_text(str(df) + "\n")
    assert list(run.epochs.columns) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert any("'...'" in note for note in run.meta.notes)
    with pd.option_context("display.width", 40, "display.max_columns", 100):
        text = str(df)
    assert "\\" in text  # pandas wrapped the columns into blocks
    (run,) = parse_text(text + "\n")
    assert list(run.epochs.columns) == list(df.columns) and run.epochs.loc[2, "val_accuracy"] == 0.4


def test_the_index_named_epoch_and_starting_at_one_is_taken_as_printed():
    df = pd.DataFrame({"loss": [0.5, 0.4]}, index=pd.Index([1, 2], name="epoch"))
    (run,) = parse_text(str(df) + "\n")
    assert list(run.epochs.index) == [1, 2] and run.epochs.loc[2, "loss"] == 0.4


def test_markdown_table():
    text = (
        "Results:\n\n"
        "|    |   loss |   accuracy |   val_loss |\n"
        "|---:|-------:|-----------:|-----------:|\n"
        "|  0 | 0.495  |     0.8262 |     0.3967 |\n"
        "|  1 | 0.3736 |     0.865  |     0.3819 |\n"
    )
    (run,) = parse_text(text)
    assert run.epochs.loc[2].tolist() == [0.3736, 0.865, 0.3819]
    text = "| epoch | loss | val_loss |\n|---|---|---|\n| 1 | 0.5 | 0.6 |\n| 2 | 0.4 | 0.55 |\n"
    (run,) = parse_text(text)
    assert list(run.epochs.index) == [1, 2] and list(run.epochs.columns) == ["loss", "val_loss"]


def test_csvlogger_lines_among_prose_keep_the_zero_based_epoch():
    text = "My log.csv:\nepoch,accuracy,loss\n0,0.8262,0.495\n1,0.865,0.3736\nThanks!\n"
    (run,) = parse_text(text)
    assert list(run.epochs.index) == [1, 2] and run.meta.format == "csv"


def test_r_long_form_data_frame():
    text = (
        "> as.data.frame(history)\n"
        "   epoch     value   metric       data\n"
        "1      1 0.4950000     loss   training\n"
        "2      2 0.3736000     loss   training\n"
        "3      1 0.8262000      acc   training\n"
        "4      2 0.8650000      acc   training\n"
        "5      1 0.3967000     loss validation\n"
        "6      2 0.3819000     loss validation\n"
    )
    (run,) = parse_text(text)
    assert list(run.epochs.columns) == ["loss", "accuracy", "val_loss"]
    assert run.epochs.loc[2].tolist() == [0.3736, 0.865, 0.3819]


def test_history_dict_printed_among_prose_or_pretty_printed():
    text = "I printed history.history: {'loss': [0.495, 0.3736, nan], 'val_loss': [0.3967,\n 0.3819, 0.39]}\nAny idea?\n"
    (run,) = parse_text(text)
    assert run.epochs["val_loss"].tolist() == [0.3967, 0.3819, 0.39] and run.meta.printed_nan == {"loss": [3]}
    pretty = "{'accuracy': [0.8262,\n              0.865],\n 'loss': [0.495,\n          0.3736]}\n"
    (run,) = parse_text(">>> pprint(history.history)\n" + pretty)
    assert run.epochs.loc[2].tolist() == [0.865, 0.3736]


def test_a_log_with_epochs_wins_over_a_table_in_the_same_paste():
    log = "Epoch 1/1\n10/10 [==============================] - 0s - loss: 0.2500\n"
    table = "       loss\n0    0.9000\n1    0.8000\n"
    (run,) = parse_text(log + table)
    assert run.meta.format == "progbar" and run.epochs["loss"].tolist() == [0.25]


@pytest.mark.parametrize(
    "text",
    [
        # a model summary and a classification report are not epoch tables
        "Layer (type)                 Output Shape              Param #\n"
        "dense_1 (Dense)              (None, 64)                6464\n",
        "              precision    recall  f1-score   support\n\n           0       0.95      0.97      0.96       980\n"
        "    accuracy                           0.96     10000\n",
        "loss accuracy\nwhat do these mean?\n",
        "{'loss': 'high', 'accuracy': 'low'}\n",
    ],
)
def test_what_only_looks_like_a_table_is_not_one(text):
    with pytest.raises(NoEpochsError):
        parse_text(text)


def test_pandas_json_dict_of_dicts_file(tmp_path):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"loss": {"0": 0.5, "1": 0.4}, "val_loss": {"0": 0.6, "1": None}}))
    (run,) = load_runs(path)
    assert list(run.epochs.index) == [1, 2] and math.isnan(run.epochs.loc[2, "val_loss"])


def test_csv_read_and_written_again_by_pandas_drops_its_old_index(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(",Unnamed: 0,loss,val_loss\n0,0,0.5,0.6\n1,1,0.4,0.55\n")
    (run,) = load_runs(path)
    assert list(run.epochs.columns) == ["loss", "val_loss"] and list(run.epochs.index) == [1, 2]


def test_utf16_csv_from_a_spreadsheet_with_decimal_commas(tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes("loss;accuracy\r\n0,5;0,7\r\n0,4;0,8\r\n".encode("utf-16"))
    (run,) = load_runs(path)
    assert run.epochs.loc[2].tolist() == [0.4, 0.8] and run.meta.inferred_epochs == [1, 2]
