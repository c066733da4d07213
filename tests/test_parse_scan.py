"""The bulk path for plain regions gives what the line-by-line path gives."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS, SEED_LOG
from dynamics.errors import DynamicsError
from dynamics.sources.parse import parse_lines
from dynamics.sources.parse.reader import Region

LOGS = [p.read_text("utf-8", "replace") for p in sorted((CORPUS / "logs").glob("*.txt"))] + [SEED_LOG.read_text()]
UPDATE = "{c}/60 [=====>........................] - ETA: 3s - loss: 0.{c:04d} - acc: 0.5000"
PIECES = [
    UPDATE.format(c=7),
    UPDATE.format(c=59) + "Epoch 00003: val_acc did not improve",
    UPDATE.format(c=12) + "Epoch 1/1000",
    "Epoch 3/5",
    "60/60 [==============================] - 1s - loss: 0.2500 - acc: 0.7500 - val_loss: 0.3000 - val_acc: 0.7000",
    "Train on 60 samples, validate on 20 samples",
    "",
    "some prose",
    UPDATE.format(c=30) + " Batch 3: Invalid loss, terminating training",
]


def _result(lines):
    try:
        runs = parse_lines(lines)
    except DynamicsError as exc:
        return str(exc)
    return repr([(r.epochs.to_dict(), r.meta.to_dict(), [e.__dict__ for e in r.events]) for r in runs])  # (repr: nan == nan)


def _both_ways(text: str):
    assert _result(text.split("\n")) == _result([Region(text)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_assembled_captures(pieces):
    _both_ways("\n".join(pieces))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LOGS), st.integers(0, 10_000), st.integers(0, 10_000))
def test_corpus_logs_cut_anywhere(log, start, length):
    _both_ways(log[start : start + length])


def test_every_corpus_log():
    for log in LOGS:
        _both_ways(log)
