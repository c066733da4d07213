"""The protobuf wire format of the few messages that carry a TensorBoard scalar (for :mod:`dynamics.sources.tfevents`).

Decoded by hand -- no protobuf package, no generated classes: a message is a
sequence of ``key`` varints (``field_number << 3 | wire_type``) each followed
by a varint (type 0), 8 bytes (1), a length-prefixed payload (2) or 4 bytes
(5). Only ``Summary.Value`` (tag 1, simple_value 2, tensor 8) and
``TensorProto`` (dtype 1, tensor_shape 2, tensor_content 4, float_val 5,
double_val 6, int_val 7, int64_val 10, half_val 13) are read; every other
field is skipped by its wire type.
"""

from __future__ import annotations

import struct

import numpy as np

F32 = struct.Struct("<f")
F64 = struct.Struct("<d")
#: tensorflow DataType numbers of the scalar types read.
_DT_FLOAT, _DT_DOUBLE, _DT_INT32, _DT_INT64, _DT_HALF = 1, 2, 3, 9, 19
_CONTENT = {_DT_FLOAT: "<f4", _DT_DOUBLE: "<f8", _DT_INT32: "<i4", _DT_INT64: "<i8", _DT_HALF: "<f2"}


class Malformed(Exception):
    """A record whose CRC is right but whose protobuf does not decode."""


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise Malformed("varint longer than 10 bytes")


def _skip(buf: bytes, pos: int, wire: int) -> int:
    if wire == 0:
        return varint(buf, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 2:
        n, pos = varint(buf, pos)
        return pos + n
    if wire == 5:
        return pos + 4
    raise Malformed(f"wire type {wire}")


def fields(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """``(number, wire, start, end)`` of each field of the message in ``buf[start:end]``.

    For wire type 2 ``start:end`` is the payload; for the others, the value's bytes.
    """
    out = []
    pos = start
    while pos < end:
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 2:
            n, pos = varint(buf, pos)
            out.append((number, 2, pos, pos + n))
            pos += n
        else:
            nxt = _skip(buf, pos, wire)
            out.append((number, wire, pos, nxt))
            pos = nxt
        if pos > end:
            raise Malformed("a field runs past the end of its message")
    return out


def _elements(buf: bytes, start: int, end: int) -> int:
    """Number of elements of a TensorShapeProto (1 for a scalar: no dims, or dims of size 1)."""
    count = 1
    for number, wire, a, b in fields(buf, start, end):
        if number == 2 and wire == 2:  # dim { size: n }
            size = 1
            for n2, w2, c, _ in fields(buf, a, b):
                if n2 == 1 and w2 == 0:
                    size = varint(buf, c)[0]
            count *= size
        elif number == 3 and wire == 0 and varint(buf, a)[0]:
            return -1  # unknown rank
    return count


def _tensor_scalar(buf: bytes, start: int, end: int) -> tuple[float, int, int] | None:
    """``(value, offset, width)`` of a one-element TensorProto, else None.

    ``width`` is 4 or 8 when the value is a float or double stored as raw
    bytes at ``offset`` (what the layout cache of :func:`scan` can slice),
    else 0.
    """
    dtype = None
    elements = 1
    content = None
    found: list[tuple[float, int, int]] = []
    for number, wire, a, b in fields(buf, start, end):
        if number == 1 and wire == 0:
            dtype = varint(buf, a)[0]
        elif number == 2 and wire == 2:
            elements = _elements(buf, a, b)
        elif number == 4 and wire == 2:  # tensor_content: raw little-endian
            content = (a, b)
        elif number in (5, 6) and wire in (1, 2, 5):  # float_val, double_val
            width = 4 if number == 5 else 8
            fmt = F32 if number == 5 else F64
            for pos in range(a, b, width) if wire == 2 else [a]:
                found.append((fmt.unpack_from(buf, pos)[0], pos, width))
        elif number in (7, 10, 13) and wire in (0, 2):  # int_val, int64_val, half_val: varints
            pos = a
            while pos < b:
                raw, pos = varint(buf, pos)
                if number == 13:
                    value = float(np.array([raw & 0xFFFF], dtype=np.uint16).view(np.float16)[0])
                else:
                    value = float(raw - (1 << 64) if raw >> 63 else raw)  # negative ints are sign-extended to 64 bits
                found.append((value, -1, 0))
                if wire == 0:
                    break
    if elements != 1:
        return None  # not a scalar (TF stores a constant tensor as one repeated value)
    if content is not None:
        if dtype not in _CONTENT:
            return None
        a, b = content
        size = np.dtype(_CONTENT[dtype]).itemsize
        if b - a != size:
            return None
        value = float(np.frombuffer(buf[a:b], dtype=_CONTENT[dtype])[0])
        return value, a, size if dtype in (_DT_FLOAT, _DT_DOUBLE) else 0
    if len(found) != 1:
        return None  # empty
    return found[0]


def scalar_values(buf: bytes, start: int, end: int, out: list[tuple[str, float, int, int]], other: set[str]) -> None:
    """Append ``(tag, value, offset, width)`` for each scalar Summary.Value in ``buf[start:end]``."""
    for number, wire, a, b in fields(buf, start, end):
        if number != 1 or wire != 2:
            continue
        tag = ""
        scalar = None
        kinds = set()
        for n2, w2, c, d in fields(buf, a, b):
            if n2 == 1 and w2 == 2:
                tag = buf[c:d].decode("utf-8", "replace")
            elif n2 == 2 and w2 == 5:
                scalar = (F32.unpack_from(buf, c)[0], c, 4)
            elif n2 == 8 and w2 == 2:
                scalar = _tensor_scalar(buf, c, d)
                if scalar is None:
                    kinds.add("tensor")
            elif n2 in (3, 4, 5, 6):
                kinds.add("other")
        if scalar is not None:
            out.append((tag, scalar[0], scalar[1], scalar[2]))
        elif kinds:
            other.add(tag)
