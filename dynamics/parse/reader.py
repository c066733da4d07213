"""Turn a byte stream into the lines a person would have seen on screen.

A captured ``model.fit`` stream redraws its progress bar in place: every
update writes ``\\b`` * width, then ``\\r``, then the new line; only the last
update before a ``\\n`` stays visible. A 200 MB capture may therefore hold a
hundred physical lines of megabytes each. This reader keeps, for every
physical line, only the text after its last ``\\r`` (the last non-blank piece,
so ``\\r\\n`` endings work), reading fixed-size chunks and looking for the
separators with ``bytes.split``/``rfind`` -- C loops, no per-update Python
work and no copy of the whole line. Memory stays bounded by the longest
redraw, not by the file.

Hand-written rather than ``io.TextIOWrapper(newline=...)`` because no
standard reader treats ``\\r`` as "overwrite" and ``\\n`` as "line end" at the
same time.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO

from dynamics.errors import InputError

CHUNK_SIZE = 1 << 20
#: A physical line with no ``\r`` longer than this is cut (at a space) and
#: handed on in pieces, so a file without line breaks cannot exhaust memory.
MAX_PIECE = 1 << 23

_BLANK = b" \t\b\x0b\x0c\x00"
_CARET_ESC = re.compile(rb"\^\[(?=\[)")


def _last_visible(data: bytes, sep: bytes = b"\r") -> bytes | None:
    """The last piece of ``data`` between ``sep`` separators that is not blank."""
    end = len(data)
    while True:
        i = data.rfind(sep, 0, end)
        piece = data[i + len(sep) : end] if i >= 0 else data[:end]
        if piece.strip(_BLANK):
            return piece
        if i < 0:
            return None
        end = i


def _visible(line: bytes, earlier: bytes | None) -> bytes | None:
    """What stays on screen of one physical line (``earlier``: a piece already seen)."""
    if b"\r" in line:
        piece = _last_visible(line)
        line = piece if piece is not None else (earlier or b"")
    elif not line.strip(_BLANK) and earlier is not None:
        line = earlier
    if b"^" in line:
        # A paste that rendered the control characters as text: ^H, ^M, ^[.
        line = line.replace(b"^H", b"\b")
        if b"^M" in line:
            line = _last_visible(line, b"^M") or b""
        line = _CARET_ESC.sub(b"\x1b", line)
    if b"\b" in line:
        line = line.replace(b"\b", b"")
    return line


def _decode(line: bytes) -> str:
    return line.decode("utf-8", "replace")


def sniff_encoding(head: bytes, source: str) -> str | None:
    """``None`` for UTF-8/ASCII, a codec name for UTF-16/32; reject binary data."""
    if head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = head[:8192]
    if not sample or b"\x00" not in sample:
        return None
    odd_nul = sample[1::2].count(0) / max(1, len(sample[1::2]))
    even_nul = sample[0::2].count(0) / max(1, len(sample[0::2]))
    if odd_nul > 0.9 and even_nul < 0.1:
        return "utf-16-le"  # Windows PowerShell redirect without a BOM
    if even_nul > 0.9 and odd_nul < 0.1:
        return "utf-16-be"
    if sample.count(0) > max(4, len(sample) // 100):
        raise InputError(f"{source} is not a text log: it holds binary data")
    return None


def _transcode(stream: BinaryIO, first: bytes, encoding: str) -> Iterator[bytes]:
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    chunk = first
    while chunk:
        yield decoder.decode(chunk).encode("utf-8")
        chunk = stream.read(CHUNK_SIZE)
    yield decoder.decode(b"", final=True).encode("utf-8")


def _chunks(stream: BinaryIO, source: str) -> Iterator[bytes]:
    first = stream.read(CHUNK_SIZE)
    if not first:
        return
    encoding = sniff_encoding(first, source)
    if encoding is not None:
        yield from _transcode(stream, first, encoding)
        return
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8) :]
    chunk = first
    while chunk:
        yield chunk
        chunk = stream.read(CHUNK_SIZE)


def iter_screen_lines(stream: BinaryIO, source: str = "<stream>") -> Iterator[str]:
    """Yield each physical line as it would be left on screen, decoded.

    Parameters
    ----------
    stream : binary file object
        Read in chunks of :data:`CHUNK_SIZE` bytes.
    source : str
        Name used in error messages.

    Yields
    ------
    str
        The visible text of each ``\\n``-terminated line (the last ``\\r``
        redraw, backspaces removed), UTF-8 decoded with replacement.

    Examples
    --------
    >>> import io
    >>> list(iter_screen_lines(io.BytesIO(b"Epoch 1/2\\r\\n 1/9 [>..]\\b\\b\\r9/9 [===] - loss: 1\\n")))
    ['Epoch 1/2', '9/9 [===] - loss: 1']
    """
    carry = b""  # text of the current physical line after its last \r
    earlier: bytes | None = None  # last non-blank redraw of the current line
    for chunk in _chunks(stream, source):
        data = carry + chunk if carry else chunk
        lines = data.split(b"\n")
        for line in lines[:-1]:
            visible = _visible(line, earlier)
            earlier = None
            if visible is not None:
                yield _decode(visible)
        tail = lines[-1]
        cut = tail.rfind(b"\r")
        if cut >= 0:
            piece = _last_visible(tail[:cut])
            if piece is not None:
                earlier = piece
            tail = tail[cut + 1 :]
        while len(tail) > MAX_PIECE:
            # No line break for megabytes: hand on a piece, cut before an
            # ``Epoch`` header or at a space so rows stay whole where possible.
            at = tail.rfind(b" Epoch ", 0, MAX_PIECE)
            if at <= 0:
                at = tail.rfind(b" ", 0, MAX_PIECE)
            if at <= 0:
                at = MAX_PIECE
            yield _decode(_visible(tail[:at], None) or b"")
            tail = tail[at:]
        carry = tail
    if carry or earlier is not None:
        visible = _visible(carry, earlier)
        if visible is not None and visible.strip(_BLANK):
            yield _decode(visible)
