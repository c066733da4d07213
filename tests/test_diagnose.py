"""diagnose(): the seed's numbers, every corpus log, and the rules of the findings."""

import json
import math

import numpy as np
import pytest

from conftest import CORPUS, SEED_LOG, corpus_manifest, make_seed_run
from dynamics.diagnose import Diagnosis, diagnose, from_run
from dynamics.errors import ArgumentError, NoEpochsError
from dynamics.findings import Finding
from dynamics.run import Run, RunMeta, make_epoch_table


def check_seed(d: Diagnosis) -> None:
    """The numbers issue 3 requires on the seed log."""
    onset = d.get("overfitting_onset")
    ev = onset.evidence
    assert (ev["best_epoch"], ev["best_val"], ev["last_epoch"], ev["last_val"]) == (3, 0.3736, 77, 0.9105)
    assert round(ev["rise_pct"]) == 144 and ev["train_last"] == 0.0129
    assert "0.3736 at epoch 3" in onset.claim and "0.9105 at epoch 77 (+144%)" in onset.claim and "0.0129" in onset.claim

    intervals = d.get("val_accuracy_intervals")
    eps = intervals.evidence["epochs"]
    assert eps[3]["value"] == 0.8440 and eps[77]["value"] == 0.8234
    for e in (3, 77):
        assert 0.0135 < eps[e]["half_width"] < 0.0155  # "about +-1.5 points"
    assert intervals.evidence["n_val"] == 2500
    assert "0.8440 at epoch 3" in intervals.claim and "0.8234 at epoch 77" in intervals.claim

    es = d.get("early_stopping")
    rec = es.evidence["recommended"]
    assert {k: rec[k] for k in ("patience", "stop_epoch", "kept_epoch", "near_best")} == {
        "patience": 2, "stop_epoch": 5, "kept_epoch": 3, "near_best": True}
    for p in range(3, 11):
        assert es.evidence["outcomes"][p]["status"] == "undetermined"
    assert "patience=2" in es.claim and "stopped after epoch 5 and restored epoch 3" in es.claim
    assert "Patience 3-10 cannot be judged" in es.claim and "epochs 6-74 are missing" in es.claim

    conf = d.get("confident_mistakes")
    b77, b3 = conf.evidence["epochs"][77], conf.evidence["epochs"][3]
    assert b77["wrong_low"] >= 1.92 and round(b77["wrong_low"], 2) == 1.92
    assert b77["gm_wrong_high"] <= 0.15
    assert round(b3["wrong_low"], 2) == 0.69
    assert "at least 1.92 nats" in conf.claim and "at least 0.69 nats" in conf.claim

    rise = d.get("training_loss_rises")
    r76 = rise.evidence["rises"][76]
    assert round(r76["rise"], 4) == 0.0022 and round(r76["rise_pct"]) == 16
    assert "(+0.0022, +16%)" in rise.claim

    assert "1.92 nats" in d.verdict and "patience=2" in d.verdict and "+144%" in d.verdict
    paired = d.get("paired_comparison_needs_samples")
    assert paired.severity == "undetermined" and "same samples" in paired.claim


def test_seed_numbers_from_the_hand_built_run():
    check_seed(diagnose(make_seed_run()))


def test_seed_numbers_through_the_parser():
    from dynamics.sources.io import load_runs

    runs = load_runs(SEED_LOG)
    assert len(runs) == 1
    check_seed(diagnose(runs[0]))


def test_seed_epochs_76_and_77_are_not_counts_of_2500():
    f = diagnose(make_seed_run()).get("n_val_mismatch")
    assert f.evidence["epochs"] == [76, 77] and "0.8232/0.8236" in f.claim


def _glitches(d: Diagnosis) -> set[int]:
    return {e for f in d.findings if f.code.endswith("loss_glitch") for e in f.evidence["epochs"]}


def check_consistent(run: Run, d: Diagnosis) -> None:
    """No finding's evidence contradicts the epoch table."""
    t = run.epochs
    index = [int(e) for e in t.index]
    clean = t.drop(index=[e for e in _glitches(d) if e in t.index])
    for f in d.findings:
        ev = f.evidence
        assert f.claim.strip() and f.severity in ("info", "warning", "critical", "undetermined")
        if f.severity == "undetermined":
            assert "annot" in f.claim  # "Cannot tell ..." / "cannot be judged"
        if f.code == "best_epochs":
            for col, item in ev.items():
                assert t.at[item["epoch"], col] == item["value"]
                series = clean[col].dropna()
                assert item["value"] == (series.min() if col == "val_loss" else series.max())
        if f.code in ("overfitting_onset", "training_diverging"):
            assert t.at[ev["best_epoch"], "val_loss"] == ev["best_val"]
            assert t.at[ev["last_epoch"], "val_loss"] == ev["last_val"]
            assert t.at[ev["best_epoch"], "loss"] == ev["train_at_best"]
            assert ev["best_val"] == clean["val_loss"].min()
        if f.code == "early_stopping":
            col = ev["monitor"]
            for p, o in ev["outcomes"].items():
                if o["stop_epoch"] is not None:
                    assert o["stop_epoch"] in index and o["kept_epoch"] in index
                    upto = t.loc[: o["stop_epoch"], col].dropna()
                    best = upto.min() if col == "val_loss" else upto.max()
                    assert t.at[o["kept_epoch"], col] == best
        if f.code == "confident_mistakes":
            for e, b in ev["epochs"].items():
                assert t.at[e, ev["loss_metric"]] == b["loss"]
                assert b["wrong_low"] <= b["wrong_high"] and b["gm_wrong_low"] <= b["gm_wrong_high"]
        if f.code == "val_accuracy_intervals":
            for e, item in ev["epochs"].items():
                col = d.tables["epochs"].columns
                assert item["low"] <= item["value"] <= item["high"]
                assert item["value"] in set(t.loc[e, [c for c in col if c.startswith("val_") and c.endswith("accuracy")]])
        if f.code == "training_loss_rises":
            for e, r in ev["rises"].items():
                assert t.at[e, "loss"] == r["value"] and t.at[e - 1, "loss"] == r["previous"] and r["value"] > r["previous"]
        if f.code == "log_coverage":
            assert ev["epochs"] == index
            for a, b in ev["missing"]:
                assert not any(a <= e <= b for e in index)
        if f.code == "accuracy_frozen":
            seg = t.loc[ev["first_epoch"]: ev["last_epoch"], ev["metric"]]
            assert (seg == ev["value"]).all()
        if f.code.endswith("_not_finite"):
            for e in ev["epochs"]:
                assert not math.isfinite(t.at[e, ev["metric"]])
    json.dumps(d.to_dict(), allow_nan=False)


def test_every_corpus_log_diagnoses_without_contradicting_its_table():
    from dynamics.sources.io import load_runs

    seen = 0
    for entry in corpus_manifest():
        path = CORPUS / entry["file"]
        if entry["epoch_rows"] == 0:
            with pytest.raises(NoEpochsError):
                load_runs(path)
            continue
        for run in load_runs(path):
            d = diagnose(run)
            check_consistent(run, d)
            assert d.verdict
            seen += 1
    assert seen >= 25


def test_seed_is_consistent_too():
    run = make_seed_run()
    check_consistent(run, diagnose(run))


def _run(rows, **meta):
    return Run(make_epoch_table(rows), RunMeta(**meta))


def test_extra_producers_plug_in_and_reach_json():
    def per_sample(run):
        return [Finding("flips", "info", f"{len(run.epochs)} epochs", {"n": len(run.epochs)}, None, "samples")]

    d = diagnose(make_seed_run(), extra_producers=[from_run(per_sample)])
    assert d.by_topic()["samples"][0].evidence == {"n": 8}
    # the samples topic follows the overfitting section (dynamics.diagnose.TOPICS), in the JSON too
    codes = [f.code for f in d.findings]
    topics = [f.topic for f in d.findings]
    assert codes[topics.index("samples")] == "flips" and topics.index("samples") > max(
        i for i, t in enumerate(topics) if t == "overfitting")
    data = d.to_dict()
    assert [f["code"] for f in data["findings"]] == codes
    assert data["tables"]["early_stopping"]["rows"][0]["monitor"] == "val_loss"
    only = diagnose(make_seed_run(), producers=[from_run(per_sample)])
    assert only.codes() == ["flips"]


def test_n_val_given_inferred_or_unknown():
    rng = np.random.default_rng(5)
    counts = rng.integers(50, 70, size=8)
    rows = {e: {"loss": 1 / e, "val_loss": 0.5 + 0.01 * e, "accuracy": 0.9, "val_accuracy": round(k / 75, 4)}
            for e, k in enumerate(counts, 1)}
    d = diagnose(_run(rows))
    assert d.context["n_val"] == 75 and d.context["n_val_source"] == "inferred"
    assert "multiples of 1/75" in d.get("n_val_inferred").claim
    d = diagnose(_run(rows), n_val=150)
    assert d.context["n_val_source"] == "option" and d.get("n_val_inferred") is None
    noisy = {e: dict(r, val_accuracy=v) for (e, r), v in zip(rows.items(), [0.8123, 0.8391, 0.8217, 0.8302, 0.8264, 0.8189, 0.8345, 0.8111])}
    d = diagnose(_run(noisy))
    f = d.get("n_val_unknown")
    assert f.severity == "undetermined" and f.claim.startswith("Cannot tell") and "--n-val" in f.suggestion
    with pytest.raises(ArgumentError, match="Received: n_val=0"):
        diagnose(_run(rows), n_val=0)


def test_classes_change_the_bounds_and_a_low_accuracy_drops_the_binary_assumption():
    d10 = diagnose(make_seed_run(), classes=10)
    b = d10.get("confident_mistakes").evidence["epochs"][77]
    assert b["wrong_low"] == pytest.approx(math.log(2), abs=1e-5)  # ln 10 for a correct sample leaves nothing forced
    assert "assumes a binary model" not in d10.get("confident_mistakes").claim
    rows = {e: {"loss": 3.0 / e, "accuracy": 0.1 * e, "val_loss": 3.2 / e, "val_accuracy": 0.09 * e} for e in range(1, 6)}
    f = diagnose(_run(rows)).get("confidence_bounds_unavailable")
    assert f.severity == "undetermined" and "--classes" in f.suggestion


def test_a_loss_too_large_for_clipped_probabilities_is_critical():
    rows = {e: {"loss": 0.1, "accuracy": 0.98, "val_loss": 8.0 + e, "val_accuracy": 0.97} for e in range(1, 5)}
    d = diagnose(_run(rows))
    f = d.get("val_loss_impossible_for_accuracy")
    assert f.severity == "critical" and f.evidence["classes_needed"] > 1000
    assert "from_logits" in f.claim and d.get("confident_mistakes") is None


def test_a_loss_too_small_for_cross_entropy_is_not_treated_as_one():
    rows = {e: {"loss": 0.02, "accuracy": 0.0056, "val_loss": 0.0078, "val_accuracy": 0.0} for e in range(43, 52)}
    d = diagnose(_run(rows))
    assert d.get("val_loss_below_crossentropy") is not None
    assert d.get("accuracy_frozen") is None and d.get("confident_mistakes") is None


def test_one_broken_epoch_is_a_glitch_and_left_out_of_the_best_epoch():
    vals = {26: (0.6755, 0.8412), 27: (0.3671, 0.9018), 28: (1.1921e-07, 0.1190), 29: (0.8091, 0.8306), 30: (0.2091, 0.9433)}
    rows = {e: {"loss": 0.07, "accuracy": 0.97, "val_loss": v, "val_accuracy": a} for e, (v, a) in vals.items()}
    d = diagnose(_run(rows))
    g = d.get("val_loss_glitch")
    assert g.evidence["epochs"] == [28] and "machine epsilon" in g.claim
    assert d.get("best_epochs").evidence["val_loss"]["epoch"] == 30


def test_stuck_accuracy_nan_and_missing_validation():
    rows = {e: {"loss": 1.0 / e, "accuracy": 0.6, "val_loss": 0.7 - 0.01 * e, "val_accuracy": 0.7188} for e in range(1, 9)}
    d = diagnose(_run(rows, n_val=2084))
    assert "1498 of 2084" in d.get("accuracy_frozen").claim and "stuck at 0.7188" in d.verdict
    rows = {1: {"loss": 0.3, "val_loss": 0.2}, 2: {"loss": math.nan, "val_loss": math.nan}}
    d = diagnose(_run(rows, printed_nan={"loss": [2], "val_loss": [2]}))
    assert d.get("loss_not_finite").severity == "critical" and d.verdict.text.startswith("Training diverged")
    d = diagnose(_run({1: {"loss": 0.5}, 2: {"loss": 0.4}}))
    assert d.get("no_validation").severity == "undetermined"


def test_small_or_short_rises_are_not_called_overfitting():
    ep = range(1, 16)
    slight = {e: {"loss": 1 / e, "val_loss": 0.7 - 0.006 * min(e, 14) + (0.006 if e == 15 else 0)} for e in ep}
    d = diagnose(_run(slight))
    # a one-epoch bump of 1% after 14 epochs of steady fall: still improving, not overfitting
    assert d.get("overfitting_onset").evidence["pattern"] == "improving"
    assert d.verdict.loss_pattern == "improving" and "Overfitting" not in d.verdict.text
    bump = {e: {"loss": 1 / e, "val_loss": 0.5 - 0.01 * e if e < 5 else 0.6} for e in range(1, 6)}
    assert diagnose(_run(bump)).get("overfitting_onset").evidence["pattern"] == "early_sign"


def test_val_loss_up_while_val_accuracy_still_improves_is_said_so():
    # keras#3755: val_loss rises from epoch 4 while val_accuracy keeps improving
    rows = {e: {"loss": 0.6 / e, "accuracy": 0.80 + 0.01 * e, "val_loss": 0.40 + 0.03 * max(0, e - 4) ** 1.2,
                "val_accuracy": 0.800 + 0.004 * e} for e in range(1, 13)}
    d = diagnose(_run(rows, n_val=10000))
    assert d.get("overfitting_onset").evidence["pattern"] == "overfitting"
    assert d.verdict.accuracy_pattern == "rising" and d.verdict.claims == ["overfitting", "real_change"]
    assert "The probabilities overfit while the decisions still improve" in d.verdict.text


def test_validation_better_than_training_throughout_is_explained():
    rows = {e: {"loss": 0.9 / e + 0.1, "val_loss": 0.8 / e + 0.05} for e in range(1, 8)}
    claim = diagnose(_run(rows)).get("generalization_gap").claim
    assert "negative (validation better) at 7 of 7 epochs" in claim and "not a sign of leakage" in claim
