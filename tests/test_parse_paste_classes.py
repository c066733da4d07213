"""The real-paste failure classes of issue 10, one real-shaped fixture each (fixtures/paste).

The generated side of each class is in tests/keras_printer.py (``lost-cr``,
``no-open-bracket``, ``bracket-time``, ``glued-download`` damages; the
``short_final``, ``repeat_header`` and ``stale_tail`` printer options; the
elision markers and the counter-total run in the round-trip test).
"""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES
from dynamics.sources.io import load_runs
from dynamics.sources.parse import parse_text

PASTE = FIXTURES / "paste"
ENTRIES = json.loads((PASTE / "manifest.json").read_text())


def _values(run, position: int) -> dict:
    printed = run.meta.metric_names
    return {printed[column]: float(value) for column, value in run.epochs.iloc[position].items()}


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"].removesuffix(".txt") for e in ENTRIES])
def test_paste_fixture_parses_to_manifest(entry):
    runs = load_runs(PASTE / entry["file"])
    assert len(runs) == len(entry["runs"])
    for run, want in zip(runs, entry["runs"]):
        assert [int(e) for e in run.epochs.index] == want["epochs"]
        assert run.meta.inferred_epochs == want["inferred"]
        assert run.meta.epochs_declared == want["epochs_declared"]
        assert _values(run, 0) == want["first"]
        assert _values(run, -1) == want["last"]
    notes = " | ".join(note for run in runs for note in run.meta.notes)
    for phrase in entry["notes"]:
        assert phrase in notes
    if not entry["notes"]:
        assert notes == ""
    for column, values in entry.get("values", {}).items():
        assert runs[0].epochs[column].tolist() == values
    if "seconds" in entry:
        assert runs[0].timing["seconds"].tolist() == entry["seconds"]
    if "elided" in entry:
        assert [list(gap) for gap in runs[0].meta.elided] == entry["elided"]


def test_glued_nested_header_in_mid_run_is_still_not_an_epoch():
    # The corpus trap (030) next to the new rule: a header glued to an update
    # counts only as the next epoch; "Epoch 1/1000" inside epoch 308 does not.
    update = " 99/100 [============================>.] - ETA: 2s - loss: 0.2445"
    row = "100/100 [==============================] - 328s 3s/step - loss: 0.2445 - val_loss: 0.2342"
    (run,) = parse_text(f"Epoch 308/1000\n{update}Epoch 1/1000\n{row}\n")
    assert list(run.epochs.index) == [308]


def test_keras208_short_last_line_without_validation_ends_at_the_glued_header():
    # Without val_*, only the next epoch's header glued to it says the epoch ended there.
    line = " 99/100 [============================>.] - ETA: 0s - loss: {:.4f}"
    text = "Epoch 1/3\n" + line.format(0.7) + "Epoch 2/3\n" + line.format(0.6) + "Epoch 3/3\n"
    text += "100/100 [==============================] - 3s - loss: 0.5000\n"
    (run,) = parse_text(text)
    assert run.epochs["loss"].tolist() == [0.7, 0.6, 0.5]


def test_a_restart_after_epoch_k_is_still_a_new_run():
    # TF 2.1's repeat is settled by what follows: "Epoch 2/N" next means a restart.
    row = "32/32 - 1s - loss: {:.4f}\n"
    text = "Epoch 1/3\n" + row.format(2.3) + "Epoch 2/3\n" + row.format(2.2) + "Epoch 1/3\n" + row.format(2.1)
    text += "Epoch 2/3\n" + row.format(2.0)
    runs = parse_text(text)
    assert [r.epochs["loss"].tolist() for r in runs] == [[2.3, 2.2], [2.1, 2.0]]


def test_one_line_under_a_new_total_is_evaluate_output_not_a_run():
    text = "Epoch 1/2\n1670/1670 - 312s - loss: 0.5000 - val_loss: 0.6000\nEpoch 2/2\n1670/1670 - 312s - loss: 0.4000 - val_loss: 0.5000\n"
    (run,) = parse_text(text + "313/313 - 1s - loss: 0.3000\n" * 2)  # Keras 3 prints evaluate()'s line twice
    assert list(run.epochs.index) == [1, 2]
    assert any("evaluate() output" in note for note in run.meta.notes)


# (Narrower wraps also split the glued "Epoch 2/3" itself; that is not read.)
@pytest.mark.parametrize("wrap", ["hard-wrap:64", "hard-wrap:80", "hard-wrap:101", "word-wrap:80", "word-wrap:101", "word-wrap:120"])
def test_keras208_eta_rows_wrapped_by_a_terminal_or_a_forum(wrap):
    from keras_printer import paste

    entry = next(e for e in ENTRIES if e["file"] == "final-row-eta-keras208.txt")
    text = paste((PASTE / entry["file"]).read_text(), wrap)
    (run,) = parse_text(text)
    assert [int(e) for e in run.epochs.index] == [1, 2, 3]
    assert _values(run, 0) == entry["runs"][0]["first"] and _values(run, -1) == entry["runs"][0]["last"]


@pytest.mark.parametrize(
    "marker",
    ["....", "...", "…", "⋮", "[...]", "<<396 more lines>>", "[... 50 lines omitted ...]", "... (12 lines skipped) ...",
     "(1,234 more lines hidden)", "[truncated]",
     "Output is truncated. View as a scrollable element or open in a text editor. Adjust cell output settings..."],
)
def test_elision_markers_stop_the_renumbering(marker):
    row = "10/10 [==============================] - 0s 5ms/step - loss: {:.4f} - val_loss: {:.4f}\n"
    text = "Epoch 1/9\n" + row.format(0.5, 0.6) + marker + "\n" + row.format(0.2, 0.3) + "Epoch 9/9\n" + row.format(0.1, 0.2)
    (run,) = parse_text(text)
    assert list(run.epochs.index) == [1, 8, 9] and run.meta.inferred_epochs == [8]


@pytest.mark.parametrize("prose", ["Truncated normal initializer used", "3 epochs later", "Output shape: (None, 10)"])
def test_prose_is_no_elision_marker(prose):
    row = "10/10 [==============================] - 0s 5ms/step - loss: {:.4f} - val_loss: {:.4f}\n"
    (run,) = parse_text("Epoch 1/2\n" + row.format(0.5, 0.6) + prose + "\nEpoch 2/2\n" + row.format(0.2, 0.3))
    assert list(run.epochs.index) == [1, 2] and run.meta.notes == []


def test_lost_cr_lines_of_headerless_fits_each_keep_their_row():
    # fit(epochs=1) in a loop (tf.keras prints no header), captured without "\r":
    # every line is updates and a row glued, one stretch of ETA lines.
    update = "  32/1875 [>.............................] - ETA: 3s - loss: 0.5123"
    row = "1875/1875 [==============================] - 5s 3ms/step - loss: {}"
    text = "".join(update + row.format(v) + "\n" for v in ("0.4000", "0.3000", "0.2000", "0.1000"))
    runs = parse_text(text)
    assert [r.epochs["loss"].tolist() for r in runs] == [[0.4], [0.3], [0.2], [0.1]]
