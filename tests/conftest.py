"""Shared test helpers: where the shipped fixtures live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SEED_LOG = FIXTURES / "seed" / "fluctuating-val-acc-lstm.txt"
CORPUS = FIXTURES / "corpus"


def corpus_manifest() -> list[dict]:
    return json.loads((CORPUS / "manifest.json").read_text())


@pytest.fixture
def seed_log() -> Path:
    return SEED_LOG


#: The seed log's eight rows (epochs 1-5 and 75-77 of 100; 6-74 elided), as
#: ``epoch: (loss, accuracy, val_loss, val_accuracy)``.
SEED_ROWS = {
    1: (0.5438, 0.7209, 0.4305, 0.8076),
    2: (0.3843, 0.8346, 0.3791, 0.8332),
    3: (0.3099, 0.8716, 0.3736, 0.8440),
    4: (0.2458, 0.9023, 0.4206, 0.8372),
    5: (0.2120, 0.9138, 0.3844, 0.8384),
    75: (0.0134, 0.9868, 0.9045, 0.8132),
    76: (0.0156, 0.9845, 0.9078, 0.8211),
    77: (0.0129, 0.9883, 0.9105, 0.8234),
}


def make_seed_run():
    """The seed log as a Run built by hand (n_train 22500, n_val 2500, 100 epochs declared)."""
    from dynamics.run import Run, RunMeta, make_epoch_table

    names = ("loss", "accuracy", "val_loss", "val_accuracy")
    table = make_epoch_table({e: dict(zip(names, v)) for e, v in SEED_ROWS.items()})
    meta = RunMeta(source="seed", era="keras1", verbose=1, n_train=22500, n_val=2500, epochs_declared=100,
                   elided=[(6, 74)])
    return Run(table, meta)


@pytest.fixture
def seed_run():
    return make_seed_run()


def pytest_collection_modifyitems(config, items):
    """Tests marked ``train`` need Keras and a backend (the [train] extra): skip them, with the reason, without it."""
    import importlib.util

    if importlib.util.find_spec("keras") is not None:
        return
    skip = pytest.mark.skip(reason="needs the [train] extra (Keras 3 and a backend): pip install -e '.[train]'")
    for item in items:
        if item.get_closest_marker("train") is not None:
            item.add_marker(skip)
