"""Fuzz: random bytes and mangled corpus logs give runs or one DynamicsError, nothing else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS, FIXTURES, SEED_LOG
from dynamics.errors import DynamicsError
from dynamics.run import runs_to_json_dict
from dynamics.sources.io import load_runs

LOGS = [p.read_bytes() for p in sorted((CORPUS / "logs").glob("*.txt"))] + [SEED_LOG.read_bytes()]
LOGS += [p.read_bytes() for p in sorted((FIXTURES / "paste").glob("*.txt"))]  # the real-paste classes of issue 10
# The other shapes a History arrives in: a printed DataFrame among prose, CSV
# from pandas, pandas JSON, a notebook, a row wrapped by a terminal.
_ROW = "1875/1875 [==============================] - 5s 3ms/step - loss: 0.3357 - accuracy: 0.8774 - val_loss: 0.3560 - val_a"
LOGS += [
    b"My history:\n       loss  accuracy  val_loss\n0  0.4950    0.8262    0.3967\n..     ...       ...       ...\n"
    b"99 0.1300    0.9500    0.3700\n\n[100 rows x 3 columns]\n",
    b",loss,accuracy,val_loss\r\n0,0.5,0.7,0.6\r\n1,0.4,,0.55\r\n",
    b'{"loss":{"0":0.5,"1":0.4},"val_loss":{"0":0.6,"1":null}}',
    b'{"cells":[{"outputs":[{"output_type":"stream","text":["Epoch 1/1\\n", "10/10 [====] - 1s - loss: 0.5000\\n"]}]}]}',
    ("Epoch 1/1\n" + _ROW + "\nccuracy: 0.8723\n").encode(),
    b"| | loss | val_loss |\n|---|---|---|\n| 0 | 0.5 | 0.6 |\n| 1 | 0.4 | 0.55 |\n",
]
NOISE = [b"\r", b"\b", b"\n", b"\x1b[1m", b"\x00", b"\xff", b"Epoch 3/2", b" - ", b"....", b"loss: nan", b"\xe2\x94", b"^M"]
# What real pastes hold (issue 10): a glued header, TF 2.1's repeated header,
# elision markers, a counter under another total, a bracketed time, stale digits.
NOISE += [b"Epoch 1/3", b"\nEpoch 1/2\n", b"\n<<396 more lines>>\n", b"[... 50 lines omitted ...]", b"418830/418830 - 9s",
          b" - ETA: 0s", b"[6s 3ms/step]", b"==]", b"0.12345", b"ss: 0.4521", b" - val_loss: 0.3000"]


def _check(data: bytes) -> None:
    try:
        runs = load_runs(data)
    except DynamicsError as exc:
        message = str(exc)
        assert message and "\n" not in message
        return
    assert runs
    for index, run in enumerate(runs):
        epochs = [int(e) for e in run.epochs.index]
        assert epochs == sorted(set(epochs)) and epochs[0] >= 1
        assert run.meta.run_index == index
        assert set(run.meta.inferred_epochs) <= set(epochs)
        for first, last in run.meta.elided:
            assert first <= last and not set(range(first, last + 1)) & set(epochs)
    json.dumps(runs_to_json_dict(runs), allow_nan=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    _check(data)


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(LOGS)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "flip", "truncate"]))
        i = draw(st.integers(0, len(data) - 1))
        j = min(len(data), i + draw(st.integers(1, 200)))
        if op == "delete":
            del data[i:j]
        elif op == "insert":
            data[i:i] = draw(st.one_of(st.sampled_from(NOISE), st.binary(max_size=20)))
        elif op == "duplicate":
            data[i:i] = data[i:j]
        elif op == "flip":
            data[i] = draw(st.integers(0, 255))
        else:
            del data[i:]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_corpus_logs(data):
    _check(data)
