"""The streaming reader: what stays on screen, whatever the chunk boundaries."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamics.errors import InputError
from dynamics.sources.parse import reader
from dynamics.sources.parse.reader import iter_screen_lines, sniff_encoding


def _reference(data: bytes) -> list[str]:
    """Whole-file version of the rule: per line, the last non-blank \r-piece, backspaces dropped."""
    blank = b" \t\b\x0b\x0c\x00"
    *lines, tail = data.split(b"\n")
    out = []
    for line in lines:
        pieces = [p for p in line.split(b"\r") if p.strip(blank)]
        out.append((pieces[-1] if pieces else b"").replace(b"\b", b"").decode("utf-8", "replace"))
    pieces = [p for p in tail.split(b"\r") if p.strip(blank)]
    if pieces:
        out.append(pieces[-1].replace(b"\b", b"").decode("utf-8", "replace"))
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"\r", b"\n", b"\b", b"\r\n", b"ab", b" ", b"loss: 1", b"\xe2\x94\x81", b"Epoch 1/2"]), max_size=60),
    st.integers(1, 9),
)
def test_chunk_boundaries_do_not_matter(pieces, chunk):
    data = b"".join(pieces)
    old = reader.CHUNK_SIZE
    reader.CHUNK_SIZE = chunk
    try:
        got = list(iter_screen_lines(io.BytesIO(b"x" + data)))
    finally:
        reader.CHUNK_SIZE = old
    blank = " \t\x0b\x0c\x00"
    assert [g.strip(blank) for g in got] == [r.strip(blank) for r in _reference(b"x" + data)]


def test_redraws_backspaces_and_crlf():
    data = b"Epoch 1/2\r\n\r 1/9 [>...]\b\b\b\r 5/9 [==>.]\b\b\b\r9/9 [====] - loss: 1\r\n"
    assert list(iter_screen_lines(io.BytesIO(data))) == ["Epoch 1/2", "9/9 [====] - loss: 1"]


def test_caret_renderings():
    data = b" 1/9 [>...] - ETA: 1s^H^H^H^H^M9/9 [====] - loss: 1\n"
    assert list(iter_screen_lines(io.BytesIO(data))) == ["9/9 [====] - loss: 1"]


def test_a_line_longer_than_the_limit_is_cut_at_a_header(monkeypatch):
    monkeypatch.setattr(reader, "MAX_PIECE", 50)
    monkeypatch.setattr(reader, "CHUNK_SIZE", 16)
    text = b" - 1s - loss: 0.5000 Epoch 2/3 - 1s - loss: 0.4000 Epoch 3/3 - 1s - loss: 0.3000"
    lines = list(iter_screen_lines(io.BytesIO(text)))
    assert "".join(lines) == text.decode() and len(lines) > 1
    assert all(not line.endswith("Epoch") for line in lines)


def test_encodings():
    assert sniff_encoding("Epoch".encode("utf-16"), "x") == "utf-16"
    assert sniff_encoding("Epoch 1/2".encode("utf-16-le"), "x") == "utf-16-le"
    assert sniff_encoding(b"Epoch 1/2", "x") is None
    with pytest.raises(InputError, match="binary"):
        sniff_encoding(b"PK\x03\x04\x00\x00\x08\x00" * 10, "x.zip")
