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
#: Control bytes a terminal capture does not contain (\t \n \r \b ESC are allowed).
_BINARY_CONTROLS = bytes(c for c in range(32) if c not in b"\t\n\r\b\x1b\x0b\x0c")
_CARET_ESC = re.compile(rb"\^\[(?=\[)")


def _last_visible(
    data: bytes, start: int = 0, end: int | None = None, sep: bytes = b"\r", prefix: bytes = b""
) -> bytes | None:
    """The last non-blank piece of ``prefix + data[start:end]`` between ``sep`` separators.

    Searches backwards with ``rfind``, so only the tail of a long line is
    looked at; ``prefix`` (the part of the line read with the previous
    chunk) is joined only when the first piece is the one needed.
    """
    end = len(data) if end is None else end
    while True:
        i = data.rfind(sep, start, end)
        piece = data[i + len(sep) : end] if i >= 0 else prefix + data[start:end]
        if piece.strip(_BLANK):
            return piece
        if i < 0:
            return None
        end = i


def _screen(piece: bytes) -> bytes:
    """Resolve caret renderings (``^H``, ``^M``, ``^[``) and backspaces in one piece."""
    if b"^" in piece:
        # A paste that rendered the control characters as text.
        piece = piece.replace(b"^H", b"\b")
        if b"^M" in piece:
            piece = _last_visible(piece, sep=b"^M") or b""
        piece = _CARET_ESC.sub(b"\x1b", piece)
    if b"\b" in piece:
        piece = piece.replace(b"\b", b"")
    return piece


def _visible(data: bytes, start: int, end: int, earlier: bytes | None, prefix: bytes = b"") -> bytes:
    """What stays on screen of the physical line ``prefix + data[start:end]``."""
    piece = _last_visible(data, start, end, prefix=prefix)
    if piece is None:
        piece = earlier or b""
    return _screen(piece)


def _decode(line: bytes) -> str:
    return line.decode("utf-8", "replace")


def sniff_encoding(head: bytes, source: str) -> str | None:
    """``None`` for UTF-8/ASCII, a codec name for UTF-16/32; reject binary data."""
    if head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = head[:8192]
    if not sample:
        return None
    if b"\x00" in sample:
        odd_nul = sample[1::2].count(0) / max(1, len(sample[1::2]))
        even_nul = sample[0::2].count(0) / max(1, len(sample[0::2]))
        if odd_nul > 0.9 and even_nul < 0.1:
            return "utf-16-le"  # Windows PowerShell redirect without a BOM
        if even_nul > 0.9 and odd_nul < 0.1:
            return "utf-16-be"
    control = sum(sample.count(bytes([c])) for c in _BINARY_CONTROLS)
    # (an incremental decoder: a character cut at the end of the sample is not an error)
    undecodable = codecs.getincrementaldecoder("utf-8")("replace").decode(sample).count("\ufffd")
    if sample.count(0) > 1 or control > len(sample) // 10 or undecodable > max(4, len(sample) // 4):
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


class Region(str):
    """Several visible lines joined by ``\\n``: a plain stretch (no ``\\r``, ``\\b``) read in one go."""

    __slots__ = ()


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
    for item in iter_screen_items(stream, source):
        if type(item) is Region:
            yield from item.split("\n")
        else:
            yield item


def iter_screen_items(stream: BinaryIO, source: str = "<stream>") -> Iterator[str]:
    """As :func:`iter_screen_lines`, but a plain stretch of lines comes as one :class:`Region`."""
    carry = b""  # the current physical line after its last \r (no \r, no \n in it)
    earlier: bytes | None = None  # its last non-blank redraw before that \r
    for chunk in _chunks(stream, source):
        # The chunk is never joined to ``carry`` as a whole: a 200 MB capture
        # is a few long lines, and only their last redraw is wanted.
        pos = 0
        last_nl = chunk.rfind(b"\n")
        if last_nl >= 0 and (carry or earlier is not None):
            nl = chunk.find(b"\n")
            yield _decode(_visible(chunk, 0, nl, earlier, carry))
            carry, earlier = b"", None
            pos = nl + 1
        if last_nl >= pos:
            region = chunk[pos:last_nl]
            if b"\r" not in region and b"\b" not in region and b"^" not in region:
                # Plain lines (a non-TTY capture, a paste): handed on in one go.
                yield Region(_decode(region))
                pos = last_nl + 1
        while (nl := chunk.find(b"\n", pos)) >= 0:
            yield _decode(_visible(chunk, pos, nl, earlier, carry))
            carry, earlier = b"", None
            pos = nl + 1
        cut = chunk.rfind(b"\r", pos)
        if cut >= 0:
            piece = _last_visible(chunk, pos, cut, prefix=carry)
            if piece is not None:
                earlier = piece
            carry = chunk[cut + 1 :]
        else:
            carry = carry + chunk[pos:] if carry else chunk[pos:]
        while len(carry) > MAX_PIECE:
            # No line break for megabytes: hand on a piece, cut before an
            # ``Epoch`` header or at a space so rows stay whole where possible.
            at = carry.rfind(b" Epoch ", 0, MAX_PIECE)
            if at <= 0:
                at = carry.rfind(b" ", 0, MAX_PIECE)
            if at <= 0:
                at = MAX_PIECE
            yield _decode(_visible(carry, 0, at, earlier))
            earlier = None
            carry = carry[at:]
    if carry.strip(_BLANK) or earlier is not None:
        last = _visible(carry, 0, len(carry), earlier)
        if last.strip(_BLANK):
            yield _decode(last)
