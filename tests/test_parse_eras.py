"""Era-by-era layouts from docs/keras-formats.md, written out by hand from it.

Each case is a layout docs/keras-formats.md documents with a corpus number that is
not shipped here (the held-back kind of log): the test text is built from the
format strings quoted there, not copied from a file.
"""

from __future__ import annotations

import pytest

from conftest import FIXTURES
from dynamics.errors import NoEpochsError
from dynamics.sources.parse import parse_file, parse_text

K3 = "━" * 20


def _one(text: str):
    runs = parse_text(text)
    assert len(runs) == 1, [r.epochs for r in runs]
    return runs[0]


def test_keras_le_208_glued_zero_based_messages_are_shifted():
    # §7.1/§7.2: callbacks print before the final bar line, glued to the last
    # update, with the 0-based hook index (Epoch 21/50 ... Epoch 00020:).
    run = _one(
        "Epoch 20/50\n"
        "1561/1562 [============================>.] - ETA: 0s - loss: 0.7744 - acc: 0.6390Epoch 00019: val_acc did not improve\n"
        "1562/1562 [==============================] - 484s - loss: 0.7744 - acc: 0.6388 - val_loss: 0.6673 - val_acc: 0.7737\n"
        "Epoch 21/50\n"
        "1561/1562 [============================>.] - ETA: 0s - loss: 0.7700 - acc: 0.6400Epoch 00020: val_acc improved from 0.77370 to 0.78000, saving model to w.h5\n"
        "1562/1562 [==============================] - 481s - loss: 0.7699 - acc: 0.6401 - val_loss: 0.6600 - val_acc: 0.7800\n"
        "Epoch 00020: early stopping\n"
    )
    assert list(run.epochs.index) == [20, 21]
    assert [(e.epoch, e.kind) for e in run.events] == [
        (20, "checkpoint_not_improved"),
        (21, "checkpoint_saved"),
        (21, "early_stopping"),
    ]
    assert run.events[1].monitor == "val_acc" and run.events[1].value == 0.78
    assert run.meta.era == "keras1"


def test_keras22_messages_after_the_row_are_one_based():
    # §7.1: Keras 2.2-2.3 print the row first, then "\nEpoch 000NN: ..." (1-based);
    # the scheduler's on_epoch_begin message comes after the header.
    run = _one(
        "Epoch 1/3\n\nEpoch 00001: LearningRateScheduler setting learning rate to 0.001.\n"
        "1000/1000 [==============================] - 1s 1ms/step - loss: 0.6000 - acc: 0.7000 - val_loss: 0.5500 - val_acc: 0.7200\n"
        "\nEpoch 00001: val_loss improved from inf to 0.55000, saving model to w.h5\n"
        "Epoch 2/3\n\nEpoch 00002: LearningRateScheduler setting learning rate to 0.001.\n"
        "1000/1000 [==============================] - 1s 1ms/step - loss: 0.5000 - acc: 0.7500 - val_loss: 0.5600 - val_acc: 0.7100\n"
        "\nEpoch 00002: val_loss did not improve from 0.55000\n"
    )
    assert [(e.epoch, e.kind, e.value) for e in run.events] == [
        (1, "lr_set", 0.001),
        (1, "checkpoint_saved", 0.55),
        (2, "lr_set", 0.001),
        (2, "checkpoint_not_improved", 0.55),
    ]
    assert run.meta.epochs_declared == 3 and run.meta.era == "keras2"


def test_resumed_run_at_a_lower_epoch_is_a_second_run():
    text = (
        "Train on 900 samples, validate on 100 samples\nEpoch 13/40\n"
        "900/900 [==============================] - 2s 2ms/step - loss: 0.3000 - acc: 0.9000 - val_loss: 0.4000 - val_acc: 0.8500\n"
        "Epoch 14/40\n"
        "900/900 [==============================] - 2s 2ms/step - loss: 0.2900 - acc: 0.9100 - val_loss: 0.4100 - val_acc: 0.8400\n"
        "Epoch 6/40\n"
        "900/900 [==============================] - 2s 2ms/step - loss: 0.5000 - acc: 0.8000 - val_loss: 0.5500 - val_acc: 0.7500\n"
    )
    first, second = parse_text(text)
    assert list(first.epochs.index) == [13, 14] and list(second.epochs.index) == [6]
    assert (first.meta.run_index, second.meta.run_index) == (0, 1)
    assert first.meta.n_train == 900 and second.meta.n_train is None


def test_right_aligned_counter_epoch_1_of_1_and_scientific_values():
    run = _one(
        "Train on 3523 samples, validate on 392 samples\nEpoch 1/1\n"
        " 512/3523 [===>..........................] - ETA: 10s - loss: 0.6931 - acc: 0.5000\n"
        "1024/3523 [=======>......................] - ETA: 7s - loss: 0.6900 - acc: 0.5200 \n"
        "3523/3523 [==============================] - 12s - loss: 3.2000e-04 - acc: 1.0000 - val_loss: 0.0000e+00 - val_acc: 1.0000\n"
    )
    assert run.epochs.loc[1].to_dict() == {"loss": 3.2e-4, "accuracy": 1.0, "val_loss": 0.0, "val_accuracy": 1.0}
    assert run.meta.epochs_declared == 1 and run.meta.n_val == 392


def test_tf_v1_loop_reduce_lr_per_sample_time_and_headerless_start():
    run = _one(
        "60000/60000 [==============================] - 4s 61us/sample - loss: 0.2000 - acc: 0.9400 - val_loss: 0.1800 - val_acc: 0.9500\n"
        "Epoch 6/20\n"
        "59968/60000 [============================>.] - ETA: 0s - loss: 0.1900 - acc: 0.9450\n"
        "Epoch 00006: ReduceLROnPlateau reducing learning rate to 0.00010000000474974513.\n"
        "60000/60000 [==============================] - 4s 60us/sample - loss: 0.1900 - acc: 0.9450 - val_loss: 0.1850 - val_acc: 0.9490 - lr: 0.0010\n"
        "Epoch 7/20\n"
        "60000/60000 [==============================] - 4s 60us/sample - loss: 0.1700 - acc: 0.9500 - val_loss: 0.1700 - val_acc: 0.9550 - lr: 1.0000e-04\n"
    )
    assert list(run.epochs.index) == [5, 6, 7] and run.meta.inferred_epochs == [5]
    assert run.timing.loc[5, "seconds_per_sample"] == pytest.approx(61e-6)
    assert run.meta.metric_names["learning_rate"] == "lr" and run.meta.era == "tfkeras"
    assert [(e.epoch, e.kind) for e in run.events] == [(6, "lr_reduced")]


def test_callback_messages_number_headerless_rows():
    # §10.3: callback messages may be the only epoch evidence; the early
    # stopping message may come after a History repr.
    run = _one(
        "Epoch 00038: val_loss improved from 0.51000 to 0.50000, saving model to best.h5\n"
        " - 10s - loss: 0.4000 - out1_loss: 0.2000 - val_loss: 0.5000 - val_out1_loss: 0.2500\n"
        "Epoch 00039: val_loss did not improve from 0.50000\n"
        " - 10s - loss: 0.3900 - out1_loss: 0.1900 - val_loss: 0.5100 - val_out1_loss: 0.2600\n"
        "\n<tensorflow.python.keras.callbacks.History at 0x7f>\nEpoch 00039: early stopping\n"
    )
    assert list(run.epochs.index) == [38, 39] and run.meta.inferred_epochs == [38, 39]
    assert run.events[-1].kind == "early_stopping" and run.events[-1].epoch == 39


def test_tf27_verbose2_times_after_the_metrics():
    run = _one(
        "Epoch 1/2\n"
        "2021-11-01 10:00:00.000000: I tensorflow/stream_executor/cuda/cuda_dnn.cc:369] Loaded cuDNN version 8100\n"
        "1079/1079 - 21s - loss: 0.2431 - accuracy: 0.9000 - val_loss: 0.2000 - val_accuracy: 0.9100 - 21s/epoch - 19ms/step\n"
        "Epoch 2/2\n"
        "1079/1079 - 18s - loss: 0.2000 - accuracy: 0.9200 - val_loss: 0.1900 - val_accuracy: 0.9200 - 18s/epoch - 17ms/step\n"
    )
    assert run.timing.to_dict("list") == {"seconds": [21.0, 18.0], "seconds_per_step": [0.019, 0.017]}
    assert run.meta.seconds_per_epoch == 19.5 and run.meta.verbose == 2 and run.meta.era == "tfkeras"


def test_minutes_eta_and_an_interrupted_second_epoch():
    run = _one(
        "Epoch 1/5\n"
        "  32/5000 [..............................] - ETA: 12:31 - loss: 2.3026 - acc: 0.1000 \n"
        "5000/5000 [==============================] - 95s 19ms/step - loss: 1.2000 - acc: 0.6000\n"
        "Epoch 2/5\n"
        " 480/5000 [=>............................] - ETA: 1:25 - loss: 0.9000 - acc: 0.7000\n"
    )
    assert list(run.epochs.index) == [1]
    assert run.meta.interrupted_epoch == 2
    assert run.events[-1].message == "the log ends inside epoch 2 (1 progress update, the last at 480/5000)"


def test_train_on_in_the_middle_starts_a_new_run():
    first, second = parse_text(
        "12096/12096 [==============================] - 1s 61us/sample - loss: 0.5000\n"
        "Epoch 2/2\n12096/12096 [==============================] - 1s 58us/sample - loss: 0.4500\n"
        "Train on 12096 samples\nEpoch 1/2\n"
        "12096/12096 [==============================] - 1s 60us/sample - loss: 0.6000\n"
        "Epoch 2/2\n12096/12096 [==============================] - 1s 59us/sample - loss: 0.5500\n"
    )
    assert list(first.epochs.index) == [1, 2] and first.meta.inferred_epochs == [1]
    assert second.meta.n_train == 12096 and second.meta.n_val is None


def test_scheduler_before_header_and_eta_at_target():
    run = _one(
        "Epoch 4: LearningRateScheduler setting learning rate to 0.0005.\nEpoch 4/10\n"
        "100/100 [==============================] - ETA: 0s - loss: 0.3000 - accuracy: 0.9000\n"
        "Epoch 4: val_loss improved from 0.35000 to 0.32000, saving model to m.h5\n"
        "100/100 [==============================] - 5s 50ms/step - loss: 0.3000 - accuracy: 0.9000 - val_loss: 0.3200 - val_accuracy: 0.8800 - lr: 5.0000e-04\n"
        "\nEpoch 5: LearningRateScheduler setting learning rate to 0.00025.\nEpoch 5/10\n"
        "100/100 [==============================] - 5s 50ms/step - loss: 0.2800 - accuracy: 0.9100 - val_loss: 0.3300 - val_accuracy: 0.8700 - lr: 2.5000e-04\n"
    )
    assert list(run.epochs.index) == [4, 5]
    assert [(e.epoch, e.kind) for e in run.events] == [(4, "lr_set"), (4, "checkpoint_saved"), (5, "lr_set")]
    assert run.epochs["learning_rate"].tolist() == [5e-4, 2.5e-4]


def test_keras3_at_target_line_without_val_is_not_a_row():
    run = _one(
        f"Epoch 1/3\n157/157 {K3} 0s 51ms/step - accuracy: 0.8334 - loss: 0.4367\n"
        "Epoch 1: val_loss improved from inf to 0.90090, saving model to m.keras\n"
        f"157/157 {K3} 8s 53ms/step - accuracy: 0.8334 - loss: 0.4367 - val_accuracy: 0.5130 - val_loss: 0.9009\n"
        f"Epoch 2/3\n157/157 {K3} 0s 51ms/step - accuracy: 0.9100 - loss: 0.2900\n"
        "Epoch 2: val_loss did not improve from 0.90090\n"
    )
    assert list(run.epochs.index) == [1] and run.meta.interrupted_epoch == 2
    assert run.timing.loc[1, "seconds"] == 8.0
    assert run.events[-1].kind == "interrupted"


def test_keras3_shortened_bar_ansi_and_lost_escape_characters():
    run = _one(
        "Epoch 1/2\n\x1b[1m40/40\x1b[0m \x1b[32m━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 5ms/step - loss: 0.5000 - val_loss: 0.6000\n"
        "Epoch 2/2\n[1m40/40[0m [32m━[0m [1m0s[0m 5ms/step - loss: 0.4000 - val_loss: 0.5500\n"
    )
    assert run.epochs.to_dict("list") == {"loss": [0.5, 0.4], "val_loss": [0.6, 0.55]}
    assert run.meta.era == "keras3"


def test_keras3_bar_rendered_as_equals_without_brackets():
    run = _one(f"Epoch 1/1\n10/10 {'=' * 20} 1s 20ms/step - accuracy: 0.5000 - loss: 0.7000\n")
    assert run.meta.era == "keras3" and run.epochs.loc[1, "loss"] == 0.7


def test_collapsed_log_with_joined_headers():
    run = _one(
        "Epoch 1/3 100/100 [==============================] - 3s 30ms/step - loss: 0.9000 - acc: 0.6000 - val_loss: 0.8000 - val_acc: 0.6500"
        " Epoch 2/3 100/100 [==============================] - 2s 20ms/step - loss: 0.7000 - acc: 0.7000 - val_loss: 0.7500 - val_acc: 0.6800"
        " Epoch 3/3 100/100 [==============================] - 2s 20ms/step - loss: 0.6000 - acc: 0.7500 - val_loss: 0.7600 - val_acc: 0.6700\n"
    )
    assert list(run.epochs.index) == [1, 2, 3] and run.epochs.loc[3, "val_loss"] == 0.76


def test_caret_rendered_control_characters():
    run = _one(
        "Epoch 1/2\r\n 32/100 [=======>......................] - ETA: 1s - loss: 0.7000" + "^H" * 60 + "^M"
        "100/100 [==============================] - 1s - loss: 0.6500 - val_loss: 0.6000\r\n"
        "Epoch 2/2\r\n100/100 [==============================] - 1s - loss: 0.6000 - val_loss: 0.5900\r\n"
    )
    assert run.epochs["loss"].tolist() == [0.65, 0.6]


def test_row_wrapped_by_a_narrow_terminal():
    run = _one(
        "Epoch 1/1\n60000/60000 [==============================] - 4s 61us/sample - loss: 0.5379 - acc: 0.7237\n"
        " - val_loss: 0.3585 - val_acc: 0.8715\n"
    )
    assert run.epochs.loc[1, "val_accuracy"] == 0.8715


def test_keras01_zero_based_header_and_dotted_names():
    run = _one(
        "Epoch 0\n1000/1000 [==============================] - 1s - loss: 0.6000 - acc.: 0.7000 - val. loss: 0.5500 - val. acc.: 0.7200\n"
        "Epoch 1\n1000/1000 [==============================] - 1s - loss: 0.5000 - acc.: 0.7500 - val. loss: 0.5000 - val. acc.: 0.7400\n"
    )
    assert list(run.epochs.index) == [1, 2]
    assert list(run.epochs.columns) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert run.meta.era == "keras0" and run.meta.epochs_declared is None


def test_negative_values_and_verbose2_scientific():
    run = _one("Epoch 1/1\n - 5s - loss: -8.7846e-02 - dice: -0.5000 - val_loss: -9.0000e-02\n")
    assert run.epochs.loc[1].tolist() == [-0.087846, -0.5, -0.09]


def test_terminate_on_nan_glued_then_full_row_with_inf():
    run = _one(
        f"Epoch 1/3\n12/13 {K3} 0s 3ms/step - loss: 3.1645 - mae: 3.1645Batch 12: Invalid loss, terminating training\n"
        f"13/13 {K3} 1s 4ms/step - loss: inf - mae: 3.2000 - val_loss: nan - val_mae: nan\n"
    )
    assert run.events[0].kind == "terminated_on_nan" and run.events[0].epoch == 1
    assert run.epochs.loc[1, "loss"] == float("inf")
    assert run.meta.printed_nan == {"val_loss": [1], "val_mae": [1]}


def test_prose_around_the_log_and_quote_and_markdown_damage():
    run = _one(
        "I trained for a while and the loss: 0.5 looked fine.\n"
        "```\n> Epoch 1/2\n>  - 5s - **loss: 0.4000** - val_loss: 0.5000\n"
        ">     Epoch 2/2\n>  - 5s - loss: 0.3000 - `val_loss: 0.6000`\n```\nAny ideas?\n"
    )
    assert run.epochs.to_dict("list") == {"loss": [0.4, 0.3], "val_loss": [0.5, 0.6]}


def test_restart_and_multiple_fits_in_one_paste():
    one = "Epoch 1/2\n - 1s - loss: 0.5000\nEpoch 2/2\n - 1s - loss: 0.4000\n"
    runs = parse_text(one + one.replace("0.5000", "0.9000"))
    assert [r.meta.run_index for r in runs] == [0, 1]
    assert runs[1].epochs.loc[1, "loss"] == 0.9


@pytest.mark.parametrize("name", ["out_verbose1.txt", "out_verbose2.txt", "out_verboseauto.txt"])
def test_raw_keras3_captures(name):
    (run,) = parse_file(FIXTURES / "keras3_raw" / name)
    assert list(run.epochs.index) == [1, 2]
    assert list(run.epochs.columns) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert run.meta.era == "keras3" and run.meta.epochs_declared == 2
    assert run.meta.verbose == (2 if "verbose2" in name else 1)


def test_raw_keras3_capture_picks_the_row_with_val_values():
    (run,) = parse_file(FIXTURES / "keras3_raw" / "out_verboseauto.txt")
    assert run.epochs.loc[2].to_dict() == {"accuracy": 0.8334, "loss": 0.4367, "val_accuracy": 0.513, "val_loss": 0.9009}
    assert run.timing.loc[2, "seconds"] == 8.0


def test_only_progress_lines_is_a_one_line_error():
    with pytest.raises(NoEpochsError) as info:
        parse_text("Epoch 1/12\n\n  128/60000 [......] - ETA: 264s - loss: 2.3258\n")
    assert str(info.value) == "no complete training epoch in <text>: the log ends inside epoch 1 (1 progress update, the last at 128/60000)"


def test_header_glued_to_a_complete_row_counts_only_as_the_next_epoch():
    run = _one(
        "Epoch 1/3\n - 1s - loss: 0.5000 - val_loss: 0.6000Epoch 2/3\n - 1s - loss: 0.4000 - val_loss: 0.5000Epoch 7/9\n"
        " - 1s - loss: 0.3000 - val_loss: 0.4000\n"
    )
    assert list(run.epochs.index) == [1, 2, 3]  # "Epoch 7/9" glued: not believed; the row has val_* -> epoch 3
    assert run.meta.inferred_epochs == [3]


def test_keras3_bar_lost_to_an_ascii_console():
    run = _one(f"Epoch 1/2\n157/157 {'?' * 20} 8s 51ms/step - loss: 0.1000\nEpoch 2/2\n157/157 {'?' * 20} 8s 51ms/step - loss: 0.0500\n")
    assert run.epochs["loss"].tolist() == [0.1, 0.05]


def test_messages_of_separate_epochs_1_fits_stay_with_their_run():
    first, second = parse_text(
        f"4/4 {K3} 0s 3ms/step - loss: 0.9000\nEpoch 1: loss improved from None to 0.90000, saving model to a.keras\n"
        f"4/4 {K3} 1s 4ms/step - loss: 0.9000\n"
        "Epoch 1: loss improved from None to 0.80000, saving model to b.keras\n"
        f"4/4 {K3} 1s 4ms/step - loss: 0.8000\n"
    )
    assert first.epochs.loc[1, "loss"] == 0.9 and second.epochs.loc[1, "loss"] == 0.8
    assert [e.value for e in first.events] == [0.9] and [e.value for e in second.events] == [0.8]
    assert first.timing.loc[1, "seconds"] == 1.0


def test_a_killed_run_before_a_restart_is_noted_on_the_restart():
    (run,) = parse_text(
        "Epoch 1/10\n  3/100 [>.............................] - ETA: 9s - loss: 0.9000\n"
        "Epoch 1/10\n100/100 [==============================] - 1s - loss: 0.5000\n"
    )
    assert run.meta.run_index == 0 and list(run.epochs.index) == [1]
    assert "a run before this one ended inside epoch 1 without a complete epoch" in run.meta.notes
