"""Round trip: random histories printed in each era's format parse back exactly.

The printer (tests/keras_printer.py) is written from docs/keras-formats.md, not
from the parser. Values are compared at print precision: what Keras printed
(``%.4f`` / ``%.4e``) read back with ``float``.
"""

from __future__ import annotations

import math
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keras_printer import DAMAGES, ELISIONS, ERAS, Epoch, Printer, paste

from dynamics.sources.parse import parse_text

NAME_POOL = [
    "acc",
    "accuracy",
    "mae",
    "mean_absolute_error",
    "auc",
    "precision",
    "f1score",
    "top_k_categorical_accuracy",
    "out1_loss",
    "dense_1_acc",
    "sparse_categorical_accuracy",
    "tp",
]

values = st.one_of(
    st.floats(0, 2),
    st.floats(1e-9, 1e-3),
    st.floats(-1e-3, -1e-9),
    st.floats(1e3, 1e12),
    st.floats(-5, 0),
    st.just(0.0),
    st.just(math.nan),
    st.sampled_from([math.inf, -math.inf]),
)


@st.composite
def histories(draw):
    era = draw(st.sampled_from(ERAS))
    verbose = draw(st.sampled_from([1, 2]))
    extra = draw(st.lists(st.sampled_from(NAME_POOL), max_size=3, unique=True))
    if "acc" in extra and "accuracy" in extra:
        extra.remove("acc")
    names = ["loss"] + extra
    validation = draw(st.booleans())
    lr_key = None
    if era.startswith("tfkeras") and draw(st.booleans()):
        lr_key = "lr"
    if era == "keras3" and draw(st.booleans()):
        lr_key = "learning_rate"
    n = draw(st.integers(1, 6))
    start = draw(st.integers(0, 40))
    total = start + n + draw(st.integers(0, 30))
    if era in ("tfkeras", "tfkeras27", "keras3") and draw(st.integers(0, 9)) == 0:
        start, n, total = 0, 1, 1  # fit(epochs=1): no header at all
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    printer = Printer(
        era=era,
        verbose=verbose,
        names=names,
        validation=validation,
        lr_key=lr_key,
        total=total,
        target=draw(st.integers(1, 100_000)),
        unit="sample" if era.startswith("tfkeras") and draw(st.booleans()) else "step",
        train_on=(draw(st.integers(1, 10**6)), draw(st.integers(1, 10**5))) if validation and era in ("keras1", "keras2") and draw(st.booleans()) else None,
        debris=draw(st.booleans()),
        dynamic=draw(st.booleans()) if era == "keras2" else True,
        rng=rng,
    )
    if printer.target == 1:
        printer.debris = False  # nothing between 0 and the target
    # Era quirks of real logs (see keras_printer): each drawn where that era shows it.
    if era == "keras1" and verbose == 1 and validation and printer.target > 1:
        printer.short_final = draw(st.booleans())
    if era in ("tfkeras", "tfkeras27") and validation:
        printer.repeat_header = draw(st.booleans())
    if verbose == 1 and not printer.short_final:
        printer.stale_tail = draw(st.booleans())
    messages = draw(st.booleans())
    keys = printer.keys()
    epochs = []
    for number in range(start + 1, start + n + 1):
        vals = {k: draw(values) for k in keys}
        if lr_key:
            vals[lr_key] = draw(st.floats(1e-7, 0.1))
        epochs.append(
            Epoch(
                number,
                vals,
                elapsed=rng.randrange(0, 5000),
                per_unit=rng.choice([rng.uniform(1e-6, 1e-3), rng.uniform(1e-3, 1), rng.uniform(1, 30)]),
                message=rng.choice(["improved", "not_improved"]) if messages else None,
            )
        )
    damage = draw(st.sampled_from(DAMAGES))
    if (printer.stale_tail or printer.short_final) and damage in ("hard-wrap", "word-wrap"):
        # A wrapped stale tail is text no one can tell from a row's rest; a
        # wrap may cut the header glued to a short final line in two (the
        # wrapped ETA rows themselves: test_parse_paste_classes).
        damage = "screen"
    if damage.endswith("wrap"):
        damage += f":{draw(st.integers(60, 200))}"  # a terminal's or a forum's width
    return printer, epochs, damage


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_printed_history_parses_back_at_print_precision(case):
    printer, epochs, damage = case
    text = paste(printer.render(epochs), damage)
    runs = parse_text(text)
    assert len(runs) == 1, text
    run = runs[0]
    assert [int(e) for e in run.epochs.index] == [e.number for e in epochs], text
    column_of = {printed: column for column, printed in run.meta.metric_names.items()}
    assert set(column_of) == set(printer.keys())
    expected_nan: dict[str, list[int]] = {}
    for e in epochs:
        for key, shown in printer.printed(e.values).items():
            got = run.epochs.loc[e.number, column_of[key]]
            want = float(shown)
            if math.isnan(want):
                assert math.isnan(got)
                expected_nan.setdefault(column_of[key], []).append(e.number)
            else:
                assert got == want, (key, shown, text)
    assert run.meta.printed_nan == expected_nan
    headers = "Epoch " in printer.header(epochs[0].number)
    assert run.meta.epochs_declared == (printer.total if headers else None)
    assert run.meta.inferred_epochs == ([] if headers else [1])
    if printer.train_on:
        assert (run.meta.n_train, run.meta.n_val) == printer.train_on
    if printer.short_final:
        assert run.timing is None  # the epochs ended with "ETA: 0s": no time printed
    else:
        assert run.timing["seconds"].tolist() == [float(e.elapsed) for e in epochs]
    assert run.meta.verbose == printer.verbose
    if any(e.message for e in epochs):
        kinds = {"improved": "checkpoint_saved", "not_improved": "checkpoint_not_improved"}
        assert [(ev.epoch, ev.kind) for ev in run.events] == [(e.number, kinds[e.message]) for e in epochs]
    else:
        assert run.events == []
    if printer.era in ("keras1", "keras3"):
        assert run.meta.era == printer.era


@st.composite
def edited_logs(draw):
    """A printed history, then what posters do to it: cut a stretch, cut the
    first header, stop mid-epoch, paste a second run after it."""
    printer, epochs, damage = draw(histories())
    if printer.total <= 1:
        printer.total = epochs[-1].number + 5  # headers printed
    edits = {
        "elide": len(epochs) >= 3 and draw(st.booleans()),
        "marker": draw(st.sampled_from(ELISIONS)),
        "cut_first_header": len(epochs) >= 2 and draw(st.booleans()),
        "interrupt": draw(st.booleans()),
        "second_run": draw(st.booleans()),
    }
    # The cut also took the next epoch's header: its row follows the marker.
    edits["cut_header_after_gap"] = edits["elide"] and len(epochs) >= 4 and draw(st.booleans())
    # A second run shown only by a new counter total (no header).
    counter_rows = printer.verbose == 1 or printer.era not in ("keras1", "keras2")
    edits["second_total"] = counter_rows and not edits["interrupt"] and not edits["second_run"] and draw(st.booleans())
    return printer, epochs, damage, edits


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited_logs())
def test_elided_inferred_interrupted_and_several_runs(case):
    printer, epochs, damage, edits = case
    kept = list(epochs)
    chunks = [[printer.header(e.number), printer._epoch_body(e)] for e in epochs]
    elided = []
    inferred = []
    if edits["elide"]:
        i = len(epochs) // 2
        elided = [(epochs[i].number, epochs[i].number)]
        n_cut = chunks[i][0].count("\n") + chunks[i][1].count("\n")
        # (on a line of its own, also after a Keras 2.0.8 line that ended without a break)
        chunks[i] = [("" if chunks[i - 1][1].endswith("\n") else "\n") + edits["marker"].format(n=n_cut) + "\n", ""]
        kept.remove(epochs[i])
        if edits["cut_header_after_gap"]:
            chunks[i + 1][0] = ""
            if i + 1 < len(epochs) - 1 or edits["interrupt"] or epochs[i + 1].message:
                # Numbered back from the header after it (or from its callback
                # message), never as the epoch before the gap + 1.
                inferred.append(epochs[i + 1].number)
            else:
                # No header after it in this run: its epoch is unknown, it is left out (and said).
                kept.remove(epochs[i + 1])
                elided = []
    if edits["cut_first_header"] and not (edits["elide"] and len(epochs) // 2 == 1):
        chunks[0][0] = ""
        inferred.insert(0, epochs[0].number)
    text = "".join(h + b for h, b in chunks)
    interrupted = None
    if edits["interrupt"]:
        interrupted = epochs[-1].number + 1
        text += printer.header(interrupted)
        if printer.verbose == 1 and printer.target > 1:
            train_keys = [k for k in printer.keys() if not k.startswith("val_") and k != printer.lr_key]
            line = printer.update_line(printer.target - 1, {k: 0.5 for k in train_keys}, train_keys)
            text += "\r" + line
    second = None
    if edits["second_run"] and not edits["interrupt"]:
        second = Printer(**{**printer.__dict__, "total": 3, "train_on": None})
        text += "\n" + second.render([Epoch(n, epochs[0].values, 7, 0.01) for n in (1, 2, 3)])
    other_total = []
    if edits["second_total"]:
        # fit() again on other data, no header printed (tf.keras, Keras 3:
        # epochs=1 each; the poster cut them in older Keras).
        new = Printer(**{**printer.__dict__, "total": 1, "target": printer.target * 7 + 3, "train_on": None, "debris": False,
                         "repeat_header": False, "stale_tail": False, "short_final": False})
        rng = random.Random(len(text))
        other_total = [Epoch(1, {k: rng.uniform(0.01, 2) for k in new.keys()}, 9, 0.02) for _ in range(rng.randrange(2, 4))]
        if not text.endswith("\n"):
            text += "\n"
        text += "".join(new._epoch_body(e) for e in other_total)
    runs = parse_text(paste(text, damage))
    run = runs[0]
    assert [int(e) for e in run.epochs.index] == [e.number for e in kept]
    if edits["cut_header_after_gap"] and epochs[len(epochs) // 2 + 1] not in kept:
        assert any("left out: nothing tells their epoch numbers" in note for note in run.meta.notes)
    assert run.meta.elided == elided
    assert run.meta.inferred_epochs == inferred
    assert run.meta.interrupted_epoch == interrupted
    if interrupted is not None:
        assert run.events[-1].kind == "interrupted" and run.events[-1].epoch == interrupted
    if other_total:
        later = runs[1:]
        if printer.era == "keras1":  # always printed a header: the poster cut them; numbered from 1
            assert [list(r.epochs.index) for r in later] == [list(range(1, len(other_total) + 1))]
        else:  # no header: each row is a fit(epochs=1) of its own
            assert [list(r.epochs.index) for r in later] == [[1]] * len(other_total)
        got = [v for r in later for v in r.epochs[r.epochs.columns[0]].tolist()]
        first = new.keys()[0]
        assert got == [float(new.printed(e.values)[first]) for e in other_total]
        return
    assert len(runs) == (2 if second else 1)
    if second:
        assert list(runs[1].epochs.index) == [1, 2, 3] and runs[1].meta.run_index == 1
