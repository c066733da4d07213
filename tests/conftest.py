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
