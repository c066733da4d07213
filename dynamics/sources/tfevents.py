"""Read the scalars of a TensorBoard event file without TensorFlow or the tensorboard package.

An event file (``events.out.tfevents.*``) is a TFRecord file: records of

====================  =====================================================
8 bytes               ``length``, little-endian uint64
4 bytes               masked CRC32C of those 8 bytes
``length`` bytes      the data: one serialized ``tensorflow.Event`` message
4 bytes               masked CRC32C of the data
====================  =====================================================

(masked: ``((crc >> 15 | crc << 17) + 0xa282ead8) mod 2**32``, TensorFlow's
``crc32c::Mask``). Of the protobuf messages only the fields that carry a
scalar are decoded, straight from the wire format
(:mod:`dynamics.sources.tfevents_wire`):

* ``Event``: ``wall_time`` (1, double), ``step`` (2, int64), ``summary`` (5);
* ``Summary``: ``value`` (1, repeated);
* ``Summary.Value``: ``tag`` (1), ``simple_value`` (2, float: TF1 and
  tensorboardX), ``tensor`` (8: TF2's ``tf.summary.scalar``);
* ``TensorProto``: ``dtype`` (1), ``tensor_shape`` (2), ``tensor_content``
  (4, raw little-endian bytes), ``float_val`` (5), ``double_val`` (6),
  ``int_val`` (7), ``int64_val`` (10), ``half_val`` (13); packed or not.

``metadata.plugin_data.plugin_name`` is not needed: a numeric tensor of one
element is a scalar whichever plugin wrote it (and TF2 writes the metadata
with only some events of a tag). Histograms, images, graphs, text and
tensors of more than one element are skipped; their CRCs are still checked.

Every CRC is checked. The data CRCs come from ``google-crc32c`` (Google's C
library in a small wheel, Apache-2.0, the one google-cloud-storage uses)
rather than our own code: a table-driven CRC in pure Python costs 0.16 us
per byte (measured), 12 s for the benchmark's 74 MB of 10**6 scalars, where
the C calls take ~0.1 s. (``crc32c`` on PyPI is as fast but LGPL-2.1.) The 8-byte length
headers, all of the same size, are checked together by a numpy table-driven
CRC-32C (:func:`_bad_headers`, tested against the published check value and
against the library).

Damage stops nothing that came before it: :func:`read_scalars` returns the
scalars read up to the first broken record and says where it broke
(:class:`Damage`: file, record index, byte offset, what is wrong). A record
whose *data* CRC is wrong while its length CRC is right is skipped and
reading goes on (the framing is intact); a wrong length CRC, a length larger
than what is left, or a file that ends inside a record stops the reading.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dynamics.errors import InputError, MissingDependencyError
from dynamics.sources.tfevents_wire import (
    F32,
    F64,
    Malformed,
    fields,
    scalar_values,
    varint,
)

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8


def _crc32c():  # type: ignore[no-untyped-def]
    try:
        import google_crc32c
    except ImportError:
        raise MissingDependencyError(
            "reading TensorBoard event files needs the google-crc32c package: pip install google-crc32c"
        ) from None
    return google_crc32c.value


def masked_crc32c(data: bytes) -> int:
    """TensorFlow's masked CRC32C of ``data`` (what a TFRecord stores).

    >>> hex(_crc32c()(b"123456789"))  # the published CRC-32C check value
    '0xe3069283'
    >>> c = 0xE3069283; hex((((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF) == hex(masked_crc32c(b"123456789"))
    True
    """
    crc = _crc32c()(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


@dataclass(frozen=True)
class Damage:
    """Where an event file stops being readable, and why."""

    path: str
    record: int  # 0-based index of the broken record
    offset: int  # byte offset of its header
    problem: str
    stopped: bool  # True: nothing after it was read; False: only this record was skipped

    def __str__(self) -> str:
        after = "nothing after it was read" if self.stopped else "this record was skipped"
        return f"{self.path}: record {self.record} at byte {self.offset}: {self.problem} ({after})"


@dataclass
class Scalars:
    """The scalars of one event file, in file order (long form: tag, step, value)."""

    path: str
    tags: list[str] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    wall_times: list[float] = field(default_factory=list)
    records: int = 0
    damage: list[Damage] = field(default_factory=list)
    other_tags: set[str] = field(default_factory=set)  # non-scalar summaries seen (histograms, images...)


def read_scalars(path: str | Path) -> Scalars:
    """Every scalar summary of one event file, with the damage found on the way.

    Raises
    ------
    InputError
        The file cannot be opened, or its first record is not a TFRecord
        (it is not an event file at all).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return scan(data, str(path))


def _crc32c_table() -> np.ndarray:
    """The byte table of CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1)
    return table.astype(np.uint32)


def _bad_headers(data: bytes, heads: list[int]) -> int | None:
    """Index of the first record whose length CRC is wrong, checked for all headers at once (numpy).

    Eight table steps over every header at once instead of one C call (and one slice) per header.
    """
    if not heads:
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    at = np.asarray(heads, dtype=np.int64)
    table = _crc32c_table()
    crc = np.full(len(at), 0xFFFFFFFF, dtype=np.uint32)
    for j in range(8):
        crc = table[(crc ^ raw[at + j]) & 0xFF] ^ (crc >> 8)
    crc ^= np.uint32(0xFFFFFFFF)
    masked = ((crc >> 15) | (crc << 17)) + np.uint32(_MASK_DELTA)  # uint32 arithmetic wraps, as the mask does
    stored = raw[at[:, None] + np.arange(8, 12)].astype(np.uint32) @ (np.uint32(1) << np.arange(0, 32, 8, dtype=np.uint32))
    bad = np.flatnonzero(masked != stored)
    return int(bad[0]) if bad.size else None


def scan(data: bytes, name: str = "<events>") -> Scalars:
    """:func:`read_scalars` of bytes held in memory.

    An undamaged file is read by :func:`_scan_clean` (the framing walked in Python, CRCs and decoding
    vectorised); a file with any damage is read record by record by :func:`_scan`, which keeps everything
    before the damage and places it exactly.
    """
    out = _scan_clean(data, name)
    return out if out is not None else _scan(data, name)


_CHUNK = 1 << 16  # rows gathered at once (a rows x length uint8 matrix)


def _scan_clean(data: bytes, name: str) -> Scalars | None:
    """All scalars of an undamaged file, or None at the first sign of damage (then :func:`_scan` reads it).

    Most records of a summary file are the same few Events -- one per tag -- that differ only in wall_time,
    step and the value's bytes. Records are grouped by length; in a group, the first record not yet decoded
    is decoded field by field (:func:`_event`), and when it has the common shape (wall_time, step, one
    summary value stored as 4 or 8 raw bytes) every record of the group equal to it outside those bytes is
    decoded at once with numpy. Records of any other shape (file_version, histograms...) are decoded one by
    one.
    """
    crc = _crc32c()
    u64 = _U64.unpack_from
    end = len(data)
    offsets: list[int] = []
    append = offsets.append
    pos = 0
    try:
        while pos < end:
            append(pos)
            pos += 16 + u64(data, pos)[0]
    except struct.error:  # fewer than 8 bytes left for a length
        return None
    if pos != end:  # the last record runs past the end (or a length is garbage)
        return None
    out = Scalars(name, records=len(offsets))
    if not offsets:
        return out
    if _bad_headers(data, offsets) is not None:
        return None
    starts = np.asarray(offsets, dtype=np.int64) + 12
    lengths = np.diff(np.append(starts - 12, end)) - 16
    raw = np.frombuffer(data, dtype=np.uint8)
    stored = raw[(starts + lengths)[:, None] + np.arange(4)].astype(np.uint32) @ (
        np.uint32(1) << np.arange(0, 32, 8, dtype=np.uint32))
    # (map over slices: the loop stays in C)
    crcs = np.fromiter(map(crc, map(data.__getitem__, map(slice, starts.tolist(), (starts + lengths).tolist()))),
                       dtype=np.uint32, count=len(offsets))
    if (((crcs >> 15) | (crcs << 17)) + np.uint32(_MASK_DELTA) != stored).any():
        return None
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # record, tag, step, value, wall
    names: dict[str, int] = {}
    order = np.argsort(lengths, kind="stable")
    bounds = np.flatnonzero(np.diff(lengths[order])) + 1
    for group in np.split(order, bounds):
        for first in range(0, len(group), _CHUNK):
            rows = group[first:first + _CHUNK]
            length = int(lengths[rows[0]])
            matrix = raw[starts[rows][:, None] + np.arange(length)]
            left = np.ones(len(rows), dtype=bool)
            while left.any():
                i = int(np.argmax(left))
                rec = data[int(starts[rows[i]]):int(starts[rows[i]]) + length]
                one = Scalars(name)
                try:
                    layout = _event(rec, {}, one)
                except (Malformed, IndexError, struct.error, UnicodeError):
                    return None
                out.other_tags |= one.other_tags
                if layout is None:  # not the common shape: this record alone
                    k = len(one.tags)
                    parts.append((np.full(k, rows[i]), np.array([names.setdefault(t, len(names)) for t in one.tags],
                                                                dtype=np.int64).reshape(k),
                                  np.array(one.steps, dtype=np.int64).reshape(k), np.array(one.values).reshape(k),
                                  np.array(one.wall_times).reshape(k)))
                    left[i] = False
                    continue
                p, value_at, width, tag = layout
                fixed = np.ones(length, dtype=bool)
                fixed[1:9] = False  # wall_time
                fixed[10:p] = False  # step (its continuation bits are compared below)
                fixed[value_at:value_at + width] = False
                same = left & (matrix[:, fixed] == matrix[i, fixed]).all(axis=1)
                step_bytes = matrix[:, 10:p]
                same &= ((step_bytes >= 0x80) == (matrix[i, 10:p] >= 0x80)).all(axis=1)
                picked = matrix[same]
                steps = np.zeros(len(picked), dtype=np.uint64)
                for k in range(p - 10):
                    steps |= (picked[:, 10 + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
                values = np.ascontiguousarray(picked[:, value_at:value_at + width]).view("<f4" if width == 4 else "<f8")
                walls = np.ascontiguousarray(picked[:, 1:9]).view("<f8")
                parts.append((rows[same], np.full(len(picked), names.setdefault(tag, len(names))),
                              steps.view(np.int64), values[:, 0].astype(np.float64), walls[:, 0]))
                left &= ~same
    record, tag_codes, steps, values, walls = (np.concatenate([part[j] for part in parts]) for j in range(5))
    by_record = np.argsort(record, kind="stable")
    tag_names = np.array(list(names), dtype=object)
    out.tags = tag_names[tag_codes[by_record]].tolist() if len(tag_names) else []
    out.steps = steps[by_record].tolist()
    out.values = values[by_record].tolist()
    out.wall_times = walls[by_record].tolist()
    return out


def _scan(data: bytes, name: str) -> Scalars:
    """Record by record, every check in turn: the reader of damaged files."""
    crc = _crc32c()
    u64, u32, f32, f64 = _U64.unpack_from, _U32.unpack_from, F32.unpack_from, F64.unpack_from
    out = Scalars(name)
    tags, steps, values, walls = out.tags, out.steps, out.values, out.wall_times
    # The summaries of one tag differ only in the value's bytes. A layout seen once is kept as
    # {summary length: [(value offset, {bytes before the value: (width, bytes after, tag, fmt)})]} and
    # later records that match it around the value are decoded by slicing. Only values stored as raw
    # fixed-width bytes are cached, so equal bytes around them mean an equal parse.
    layouts: dict[int, list[tuple[int, dict[bytes, tuple[int, bytes, str, str]]]]] = {}
    end = len(data)
    pos = index = 0
    mask, delta = 0xFFFFFFFF, _MASK_DELTA

    def broken(problem: str, stopped: bool) -> None:
        out.damage.append(Damage(name, index, pos, problem, stopped))

    while pos < end:
        if pos + 12 > end:
            broken(f"the file ends inside the record's header ({end - pos} of 12 bytes)", True)
            break
        length = u64(data, pos)[0]
        c = crc(data[pos:pos + 8])
        if u32(data, pos + 8)[0] != (((c >> 15) | (c << 17)) + delta) & mask:
            if index == 0:
                raise InputError(f"{name} is not a TensorBoard event file (the length check of its first record fails)")
            broken("the CRC of the record's length is wrong", True)
            break
        stop = pos + 12 + length
        if stop + 4 > end:
            if stop > end:
                problem = f"the record declares {length} bytes but only {end - pos - 12} remain"
            else:
                problem = "the file ends before the record's data CRC"
            broken(problem + " (cut short?)", True)
            break
        rec = data[pos + 12:stop]
        c = crc(rec)
        if u32(data, stop)[0] != (((c >> 15) | (c << 17)) + delta) & mask:
            broken("the CRC of the record's data is wrong", False)
            pos, index = stop + 4, index + 1
            continue
        pos, index = stop + 4, index + 1
        # Fast path for what every writer emits: wall_time (1), step (2), summary (5), in that order,
        # with a summary shorter than 128 bytes (a one-byte length).
        if length > 13 and rec[0] == 0x09 and rec[9] == 0x10:
            step = rec[10]
            if step < 0x80:
                p = 11
            else:
                step, p = varint(rec, 10)
            if rec[p] == 0x2A and rec[p + 1] < 0x80 and p + 2 + rec[p + 1] == length:
                s = p + 2
                for offset, table in layouts.get(length - s, ()):
                    hit = table.get(rec[s:s + offset])
                    if hit is not None:
                        width, after, tag, fmt = hit
                        a = s + offset
                        if rec[a + width:] == after:
                            tags.append(tag)
                            steps.append(step if step < 1 << 63 else step - (1 << 64))
                            values.append(f32(rec, a)[0] if fmt == "f" else f64(rec, a)[0])
                            walls.append(f64(rec, 1)[0])
                            break
                else:
                    hit = None
                if hit is not None:
                    continue
        try:
            _event(rec, layouts, out)
        except (Malformed, IndexError, struct.error, UnicodeError) as exc:
            index -= 1
            broken(f"its CRC is right but it is not an Event message ({exc or type(exc).__name__})", False)
            index += 1
    out.records = index
    return out


def _event(rec: bytes, layouts: dict, out: Scalars) -> tuple[int, int, int, str] | None:  # type: ignore[type-arg]
    """Decode one Event record field by field; learn its layout for :func:`_scan`'s fast path.

    Returns ``(p, value offset, width, tag)`` when the record is wall_time, step, then one summary whose
    only scalar is stored as ``width`` raw bytes (``p``: where the summary's field key is; the step
    varint fills ``rec[10:p]``), else None.
    """
    wall = 0.0
    step = 0
    found: list[tuple[str, float, int, int]] = []
    summary = None
    for number, wire, a, b in fields(rec, 0, len(rec)):
        if number == 1 and wire == 1:
            wall = F64.unpack_from(rec, a)[0]
        elif number == 2 and wire == 0:
            step = varint(rec, a)[0]
            step = step - (1 << 64) if step >> 63 else step  # int64 as two's complement
        elif number == 5 and wire == 2:
            summary = (a, b)
            scalar_values(rec, a, b, found, out.other_tags)
    for tag, value, _, _ in found:
        out.tags.append(tag)
        out.steps.append(step)
        out.values.append(value)
        out.wall_times.append(wall)
    if summary is None or len(found) != 1 or found[0][3] not in (4, 8) or summary[1] != len(rec) or summary[1] - summary[0] > 0x7F:
        return None
    a, b = summary
    tag, value, offset, width = found[0]
    fmt = "f" if width == 4 else "d"
    decoded = F32.unpack_from(rec, offset)[0] if fmt == "f" else F64.unpack_from(rec, offset)[0]
    if not (decoded == value or (decoded != decoded and value != value)):
        return None
    if not (rec[0] == 0x09 and rec[9] == 0x10 and rec[a - 2] == 0x2A):
        return None  # fields in another order: no fixed layout to learn
    layout = (a - 2, offset, width, tag)
    bucket = layouts.setdefault(b - a, [])
    for known, table in bucket:
        if known == offset - a:
            break
    else:
        if len(bucket) >= 16:
            return
        table = {}
        bucket.append((offset - a, table))
    if len(table) < 256:
        table[rec[a:offset]] = (width, rec[offset + width:b], tag, fmt)
    return layout
