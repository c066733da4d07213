"""Rows and callback messages broken across lines by a terminal or a forum.

The rows are written from the format reference (one per layout in
docs/keras-formats.md sections 3-4); every cut position is tried, since a terminal
cuts at its width wherever that falls.
"""

from __future__ import annotations

import math

import pytest

from dynamics.sources.parse import parse_text

K3 = "━" * 20
ROWS = [
    # Keras 2.0.9+/tf.keras: bar, elapsed and time per step, a %.4e value
    "1875/1875 [==============================] - 5s 3ms/step - loss: 0.3357 - accuracy: 0.8774 - val_loss: 1.2345e-05 - val_accuracy: 0.8723",
    # tf.keras v1 loops: us/sample, nan, a negative %.4e, the lr column
    "60000/60000 [==============================] - 4s 61us/sample - loss: nan - acc: 0.7237 - val_loss: -8.7846e-02 - val_acc: 0.8715 - lr: 1.0000e-04",
    # Keras 3 verbose=1
    f"704/704 {K3} 12s 17ms/step - accuracy: 0.8774 - loss: 0.3357 - val_accuracy: 0.8723 - val_loss: 0.3560 - learning_rate: 0.0010",
    # Keras 3 verbose=2
    "208/208 - 92s - 443ms/step - accuracy: 0.8774 - loss: 0.3357 - val_accuracy: 0.8723 - val_loss: 0.3560",
    # tf.keras >= 2.7 verbose=2: times at the end
    "370515/370515 - 13s - loss: 0.3357 - acc: 0.8774 - val_loss: 0.3560 - val_acc: 0.8723 - 21s/epoch - 19ms/step",
    # Keras 1 verbose=2, Keras 2.2 verbose=2 (with inf)
    "15s - loss: 0.3357 - acc: 0.8774 - val_loss: 0.3560 - val_acc: 0.8723",
    "- 510s - loss: 0.3357 - acc: 0.8774 - val_loss: 0.3560 - val_acc: inf",
    # Keras 1 verbose=1
    "9595/9595 [==============================] - 1s - loss: 0.3357 - acc: 0.8774 - val_loss: 0.3560 - val_acc: 0.8723",
]


def _table(text: str) -> str:
    runs = parse_text(text)
    return repr(
        [
            (list(r.epochs.index), list(r.epochs.columns), r.epochs.to_numpy().tolist(), None if r.timing is None else r.timing.to_numpy().tolist())
            for r in runs
        ]
    )


def _log(first: str) -> str:
    return "Epoch 1/2\n" + first + "\nEpoch 2/2\n" + ROWS[0] + "\n"


@pytest.mark.parametrize("row", ROWS)
def test_a_row_cut_anywhere_is_joined_again(row):
    # A terminal cuts at its width wherever that falls (mid-name, mid-number,
    # mid-time, in the bar); a forum at a space; a double-spaced paste adds a
    # blank line between the two halves.
    want = _table("Epoch 1/2\n" + row + "\nEpoch 2/2\n" + ROWS[0] + "\n")
    for i in range(row.index(" ") + 1, len(row)):  # past the counter: no terminal is that narrow
        for sep in ("\n", "\n\n", "\r\n"):
            assert _table(_log(row[:i] + sep + row[i:])) == want, (row[:i], row[i:])


@pytest.mark.parametrize("width", [60, 67, 80, 100])
def test_a_row_cut_several_times(width):
    row = ROWS[1]
    want = _table(_log(row))
    wrapped = "\n".join(row[i : i + width] for i in range(0, len(row), width))
    assert _table(_log(wrapped)) == want


def test_the_example_from_the_issue():
    run = parse_text(
        "Epoch 1/1\n"
        "1875/1875 [==============================] - 5s 3ms/step - loss: 0.3357 - accuracy: 0.8774 - val_loss: 0.3560 - val_a\n"
        "ccuracy: 0.8723\n"
    )[0]
    assert list(run.epochs.columns) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert run.epochs.loc[1, "val_accuracy"] == 0.8723


@pytest.mark.parametrize(
    "after",
    [
        "ccuracy is what I monitor",  # prose that starts mid-word
        "Epoch 2/2",
        "val_accuracy: 0.8723",  # a complete row is continued only by "- name: value"
        "- val_loss: 0.9999",  # a name the row already has
        "15s - loss: 0.1 - acc: 0.2",  # another row
        "12345",
        "Test accuracy: 0.8723",
    ],
)
def test_a_line_that_is_something_else_is_never_a_continuation(after):
    text = "Epoch 1/1\n1875/1875 [==============================] - 5s 3ms/step - loss: 0.3357 - val_loss: 0.3560\n" + after + "\n"
    run = parse_text(text)[0]
    assert list(run.epochs.columns) == ["loss", "val_loss"]
    assert run.epochs.loc[1].tolist() == [0.3357, 0.356]


ROW = "10/10 [==============================] - 1s - loss: {} - acc: {} - val_loss: 0.5000"


@pytest.mark.parametrize("after", ["", "\nThanks!\n", "\nEpoch 3/3\n"])
def test_a_value_cut_short_at_the_end_of_a_paste_is_left_out(after):
    # The paste stops inside "acc: 0.7" (a truncated copy): 0.7 is not what Keras printed.
    text = "Epoch 1/3\n" + ROW.format("0.4000", "0.6000") + "\nEpoch 2/3\n" + ROW.format("0.3300", "0.7000")[:-22] + after
    run = parse_text(text)[0]
    assert run.epochs.loc[2, "loss"] == 0.33 and math.isnan(run.epochs.loc[2, "accuracy"])
    assert "the row of epoch 2 stops inside its acc value, which is left out" in run.meta.notes


def test_short_values_written_by_hand_are_kept():
    run = parse_text("Epoch 1/2\n" + ROW.format("0.4", "0.6") + "\nEpoch 2/2\n" + ROW.format("0.33", "0.7") + "\n")[0]
    assert run.epochs["accuracy"].tolist() == [0.6, 0.7] and not run.meta.notes


MESSAGE = "Epoch 00001: val_categorical_accuracy improved from -inf to 0.35600, saving model to /content/drive/My Drive/w.h5"


def test_a_callback_message_cut_anywhere_still_counts():
    row = ROWS[0].replace("accuracy", "categorical_accuracy")
    for i in range(14, len(MESSAGE)):
        text = "Epoch 1/2\n" + row + "\n\n" + MESSAGE[:i] + "\n" + MESSAGE[i:] + "\nEpoch 2/2\n" + row + "\n"
        run = parse_text(text)[0]
        assert [(e.epoch, e.kind, e.value) for e in run.events] == [(1, "checkpoint_saved", 0.356)], MESSAGE[:i]
        assert list(run.epochs.index) == [1, 2]
