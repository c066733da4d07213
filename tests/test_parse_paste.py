"""What a paste picks up on its way from the terminal: typography, line prefixes, lost line breaks.

Each case is built from the row layouts of docs/keras-formats.md with the damage a
real tool does to it (a log collector's prefix, a blog's en dashes, a
notebook copy that lost the break after the header).
"""

from __future__ import annotations

import pytest

from dynamics.sources.parse import parse_text

ROW1 = "1875/1875 [==============================] - 5s 3ms/step - loss: 0.4950 - accuracy: 0.8262 - val_loss: 0.3967 - val_accuracy: 0.8593"
ROW2 = "1875/1875 [==============================] - 5s 3ms/step - loss: 0.3736 - accuracy: 0.8650 - val_loss: 0.3819 - val_accuracy: 0.8631"
LOG = f"Epoch 1/2\n{ROW1}\nEpoch 2/2\n{ROW2}\n"
WANT = [[0.495, 0.8262, 0.3967, 0.8593], [0.3736, 0.865, 0.3819, 0.8631]]


def _rows(text: str):
    (run,) = parse_text(text)
    assert list(run.epochs.index) == [1, 2]
    assert run.meta.epochs_declared == 2
    return run.epochs.to_numpy().tolist()


@pytest.mark.parametrize(
    "prefix",
    [
        "2024-03-01T12:00:07.1234567Z ",  # GitHub Actions, docker logs -t
        "2024-03-01 12:00:07,123 - INFO - ",  # Python logging
        "[1,0]<stdout>:",  # horovodrun / mpirun
        "(TrainTrainable pid=4242, ip=10.0.0.7) ",  # Ray
        "I0301 12:00:07.123456 140211 io_utils.py:98] ",  # absl (Keras with interactive logging off)
        "INFO:absl:",
        "12.3s\t4\t",  # a Kaggle notebook's log
        "[12:00:07] ",
    ],
)
def test_a_prefix_on_every_line_is_dropped(prefix):
    text = "\n".join(prefix + line for line in LOG.splitlines()) + "\n"
    assert _rows(text) == WANT


def test_verbose2_rows_behind_timestamps():
    text = "2024-03-01T12:00:07Z Epoch 1/2\n2024-03-01T12:00:08Z  - 5s - loss: 0.4950 - val_loss: 0.3967\n"
    text += "2024-03-01T12:00:09Z Epoch 2/2\n2024-03-01T12:00:10Z  - 5s - loss: 0.3736 - val_loss: 0.3819\n"
    (run,) = parse_text(text)
    assert run.epochs["val_loss"].tolist() == [0.3967, 0.3819]


def test_typography_of_a_blog_or_word_processor():
    text = LOG.replace(" - ", " \u2013 ").replace("\n", "\n\u3000")
    assert _rows(text) == WANT
    assert _rows(LOG.replace(" - ", " \u2014 ")) == WANT
    (run,) = parse_text("Epoch 1/1\n10/10 [==============================] - 1s - loss: \u22128.7846e-02\n")
    assert run.epochs.loc[1, "loss"] == -0.087846


def test_curly_quotes_in_a_printed_history_dict():
    (run,) = parse_text("history.history is {\u2018loss\u2019: [0.5, 0.4], \u2018val_loss\u2019: [0.6, 0.55]}\n")
    assert run.epochs["val_loss"].tolist() == [0.6, 0.55]


def test_header_and_row_glued_without_a_break():
    # A notebook copy lost the line break: "Epoch 1/2" + "1875/1875" -> "Epoch 1/21875/1875".
    text = f"Epoch 1/2{ROW1}\nEpoch 2/2{ROW2}\n"
    assert _rows(text) == WANT
    k3 = "469/469 \u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501 5s 9ms/step - accuracy: 0.8669 - loss: 0.4706"
    (run,) = parse_text(f"Epoch 1/10{k3}\n")
    assert run.meta.epochs_declared == 10 and run.epochs.loc[1, "loss"] == 0.4706


def test_keras3_colour_codes_whose_escape_bytes_were_lost_and_a_shortened_bar():
    text = (
        "Epoch 1/2\n[1m469/469[0m [32m\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501\u2501[0m[37m[0m "
        "[1m5s[0m 9ms/step - accuracy: 0.8669 - loss: 0.4706 - val_accuracy: 0.9570 - val_loss: 0.1459\n"
        "Epoch 2/2\n[1m469/469[0m [32m\u2501\u2501\u2501\u2501\u2026[0m [1m4s[0m 8ms/step - accuracy: 0.9611 - loss: 0.1333 - val_accuracy: 0.9698 - val_loss: 0.1001\n"
    )
    (run,) = parse_text(text)
    assert run.meta.era == "keras3" and run.epochs["val_loss"].tolist() == [0.1459, 0.1001]


def test_knitr_output_prefix_of_r_markdown():
    text = "\n".join("## " + line for line in LOG.splitlines()) + "\n"
    assert _rows(text) == WANT
    (run,) = parse_text("## Epoch 1/1\n## 15s - loss: 0.4950 - acc: 0.8262\n")
    assert run.epochs.loc[1, "loss"] == 0.495


def test_a_keras3_bar_read_with_the_wrong_code_page():
    # UTF-8 "━" shown as cp1252 on Windows: "â”" and an undefined byte.
    moj = ("\u2501" * 20).encode("utf-8").decode("cp1252", errors="replace")
    row = "469/469 " + moj + " 5s 9ms/step - accuracy: 0.8669 - loss: 0.4706 - val_accuracy: 0.9570 - val_loss: 0.1459"
    (run,) = parse_text(f"Epoch 1/1\n{row}\n")
    assert run.meta.era == "keras3" and run.epochs.loc[1, "val_loss"] == 0.1459
