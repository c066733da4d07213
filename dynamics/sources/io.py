"""Load runs from anything a user has: sniff the source, dispatch to its reader.

``load_runs(source)`` accepts

* a path to a printed log (any era, pasted or captured with ``\\r``/``\\b``),
  a CSVLogger file, a History JSON, a TensorBoard event file, a Lightning
  ``metrics.csv`` or a Hugging Face ``trainer_state.json`` -- told apart by
  their first bytes;
* ``"-"`` for standard input, so a log can be pasted into the terminal;
* a folder: a recorded run directory (it has a ``meta.json``), a TensorBoard
  log_dir or keras-tuner tree, a Lightning, Hugging Face or W&B run folder, a
  BackupAndRestore backup beside its CSVLogger file
  (:mod:`dynamics.sources.folders`);
* the text itself (a string with a line break), bytes, or an open file.

Every failure is a :class:`~dynamics.errors.DynamicsError` with a one-line
message; printed logs are streamed, never read whole. A damaged source (a
truncated event file) gives the runs read before the damage, which is said in
``meta.extra["damage"]``; :func:`damage_error` is the error to end with.
"""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path
from typing import IO, Any, BinaryIO

from dynamics.errors import DamagedInputError, InputError, NoEpochsError
from dynamics.run import Run

_SNIFF = 1 << 16
#: How JSON (or a printed dict) starts; not "[1m469/469" (a Keras 3 bar that lost its ESC) or "[1,0]<stdout>:".
_JSON_START = re.compile(r"\s*(?:\{\s*[\"'}]|\[\s*[{\[\]])")
#: CSV and JSON sources are read whole; beyond this size they are not what they seem.
_MAX_TABLE_BYTES = 1 << 28


class _Prefixed(io.RawIOBase):
    """A binary stream whose first bytes were already read for sniffing."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0 or n >= len(self._head):
                out, self._head = self._head, b""
                more = self._rest.read(-1 if n < 0 else n - len(out))
                return out + (more or b"")
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._rest.read(n) or b""


def _kind(head: bytes, source: str) -> str:
    """``json``, ``csv`` or ``log`` from the first bytes of a source."""
    from dynamics.sources.csvlogger import looks_like_csvlogger
    from dynamics.sources.parse.reader import sniff_encoding

    encoding = sniff_encoding(head, source)
    if encoding is not None:
        # (an incremental decoder: a character cut at the end of the head is not an error)
        import codecs

        text = codecs.getincrementaldecoder(encoding)("replace").decode(head[: 1 << 13])
    else:
        text = head[:4096].decode("utf-8", "replace")
    text = text.lstrip("\ufeff\r\n")  # not tabs: a leading tab is a CSV's empty first column
    if _JSON_START.match(text):
        return "json"
    if looks_like_csvlogger(text):
        return "csv"
    return "log"


def _is_tfrecord(head: bytes) -> bool:
    """True if ``head`` starts with a TFRecord header (a TensorBoard event file).

    Text never has a NUL among its first 8 bytes; a TFRecord length does (its high bytes are 0), and then
    the header's CRC decides.
    """
    if len(head) < 12 or b"\0" not in head[:8]:
        return False
    from dynamics.sources.tfevents import masked_crc32c

    return masked_crc32c(head[:8]) == int.from_bytes(head[8:12], "little")


def _read_stream(stream: BinaryIO, source: str) -> list[Run]:
    head = stream.read(_SNIFF) or b""
    if _is_tfrecord(head):
        from dynamics.sources.tensorboard import run_from_scalars
        from dynamics.sources.tfevents import scan

        return [run_from_scalars([(scan(head + (stream.read() or b""), source), "", None)], source=source, run_dir=None)]
    kind = _kind(head, source)
    if kind == "csv" or kind == "log":
        from dynamics.sources.frameworks import looks_like_lightning

        if looks_like_lightning(head[:4096].decode("utf-8", "replace")):
            kind = "lightning"
    if kind == "log":
        from dynamics.sources.parse import parse_stream

        return parse_stream(_Prefixed(head, stream), source=source)
    data = head + (stream.read(_MAX_TABLE_BYTES) or b"")
    if stream.read(1):
        raise InputError(f"{source} is too large for a {kind.upper()} file ({_MAX_TABLE_BYTES >> 20} MiB at most)")
    from dynamics.sources.parse.reader import sniff_encoding

    encoding = sniff_encoding(data, source) or "utf-8-sig"
    text = data.decode(encoding, "replace")
    if kind == "csv":
        from dynamics.sources.csvlogger import read_csvlogger

        return read_csvlogger(text, source=source)
    if kind == "lightning":
        from dynamics.sources.frameworks import read_lightning_csv

        return read_lightning_csv(text, source=source)
    from dynamics.sources.history import (
        load_history_object,
        looks_like_history,
        read_history,
    )

    try:
        obj = load_history_object(text, source)
    except InputError:
        obj = None
    if obj is not None:
        from dynamics.sources.notebook import embedded_log

        log = embedded_log(obj)
        if log is not None:  # a notebook or a Kaggle log: what fit printed is inside
            from dynamics.sources.parse import parse_text

            return parse_text(log, source=source)
    if obj is not None:
        from dynamics.sources.frameworks import (
            looks_like_trainer_state,
            read_trainer_state,
        )

        if looks_like_trainer_state(obj):
            return read_trainer_state(obj, source=source)
        if not looks_like_history(obj) and _strict_json(text):
            raise NoEpochsError(_not_a_history(obj, source))
    if obj is None or not looks_like_history(obj):
        # Not a History after all (a log that starts with "[" or "{"): read it as text.
        from dynamics.sources.parse import parse_text

        return parse_text(data, source=source)
    return read_history(obj, source=source)


def _strict_json(text: str) -> bool:
    import json

    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _not_a_history(obj: Any, source: str) -> str:
    """Why a JSON document is refused, naming what it holds instead."""
    if isinstance(obj, dict) and set(obj) <= {"epoch", "batch"} and "epoch" in obj:
        return (f"{source} is BackupAndRestore's training_metadata.json: it holds where training would resume "
                f"(epoch {obj.get('epoch')}), no metrics; give the folder that holds it and the CSVLogger file")
    if isinstance(obj, dict):
        keys = ", ".join(repr(k) for k in list(obj)[:5]) + (", ..." if len(obj) > 5 else "")
        held = f"an object with keys {keys}" if obj else "an empty object"
    elif isinstance(obj, list):
        held = f"a list of {len(obj)} item(s)" if obj else "an empty list"
    else:
        held = f"a {type(obj).__name__}"
    return (f"{source} is JSON but not a training history: it holds {held}, not a Keras History (a dict of lists "
            "such as {\"loss\": [...]}), a list of per-epoch dicts or a trainer_state.json")


def _read_dir(path: Path) -> list[Run]:
    from dynamics.sources.folders import (
        folder_sources,
        no_history_message,
        read_folder_source,
    )

    sources = folder_sources(path)
    if not sources:
        raise InputError(no_history_message(path))
    runs = [run for source in sources for run in read_folder_source(source, load_runs)]
    if len(runs) > 1:
        for index, run in enumerate(runs):
            run.meta.run_index = index
    return runs


def load_runs(source: str | os.PathLike[str] | bytes | IO[Any], *, name: str | None = None) -> list[Run]:
    """Every run a source holds, in order.

    Parameters
    ----------
    source : path, ``"-"``, str, bytes or file object
        A file or run directory; ``"-"`` for standard input; log text (a
        string containing a line break) or bytes; an open file (binary or
        text).
    name : str, optional
        What to call the source in ``meta.source`` and in messages.

    Returns
    -------
    list of Run
        One per training run (a paste may hold several; ``meta.run_index``
        numbers them from 0).

    Raises
    ------
    InputError
        Missing or unreadable file, binary data, a directory that is not a
        run directory.
    NoEpochsError
        The source was read but holds no complete training epoch.

    Examples
    --------
    >>> runs = load_runs("Epoch 1/1\\n5/5 [==============================] - 0s - loss: 0.25\\n")
    >>> len(runs), float(runs[0].epochs.loc[1, "loss"])
    (1, 0.25)
    """
    if isinstance(source, (bytes, bytearray)):
        return _read_stream(io.BytesIO(bytes(source)), name or "<bytes>")
    if hasattr(source, "read"):
        stream: Any = source
        if isinstance(stream, io.TextIOBase):
            stream = getattr(stream, "buffer", None) or io.BytesIO(stream.read().encode("utf-8"))
        return _read_stream(stream, name or getattr(source, "name", "<stream>"))
    if isinstance(source, str) and source == "-":
        return _read_stream(sys.stdin.buffer, name or "<stdin>")
    if isinstance(source, str) and ("\n" in source or "\r" in source) and len(source) > 0:
        return _read_stream(io.BytesIO(source.encode("utf-8", "surrogatepass")), name or "<text>")
    path = Path(source)
    label = name or str(source)
    try:
        if path.is_dir():
            return _read_dir(path)
        with path.open("rb") as stream:
            head = stream.read(12)
            if _is_tfrecord(head):
                from dynamics.sources.tensorboard import read_event_file

                return [read_event_file(path)]
            runs = _read_stream(_Prefixed(head, stream), label)  # type: ignore[arg-type]
        from dynamics.sources.folders import annotate_file

        return annotate_file(path, runs)
    except FileNotFoundError:
        raise InputError(f"no such file: {label}") from None
    except IsADirectoryError:
        raise InputError(f"{label} is a directory") from None
    except PermissionError:
        raise InputError(f"cannot read {label}: permission denied") from None
    except OSError as exc:
        raise InputError(f"cannot read {label}: {exc.strerror or exc}") from None


def load_run(source: str | os.PathLike[str] | bytes | IO[Any], run: int | None = None, *, name: str | None = None) -> Run:
    """One run of a source.

    Parameters
    ----------
    source
        As for :func:`load_runs`.
    run : int, optional
        Index of the run (``meta.run_index``, from 0; negative counts from
        the end). By default the only run, or when the paste holds several,
        the one with the most complete epochs (the last of equals).

    Examples
    --------
    >>> text = "Epoch 1/1\\n5/5 [==============================] - 0s - loss: 0.25\\n"
    >>> load_run(text + text).meta.run_index
    1
    """
    runs = load_runs(source, name=name)
    if run is None:
        return max(reversed(runs), key=lambda r: len(r.epochs))
    try:
        return runs[run]
    except (IndexError, TypeError):
        raise InputError(
            f"run {run} does not exist: the source holds {len(runs)} run{'s' if len(runs) != 1 else ''} "
            f"(0 to {len(runs) - 1})"
        ) from None


def damage_error(runs: list[Run]) -> DamagedInputError | None:
    """The error to end with when some runs were read from damaged sources (None when none was).

    >>> from dynamics.run import RunMeta, make_epoch_table
    >>> run = Run(make_epoch_table({1: {"loss": 0.5}}), RunMeta(source="logs", extra={"damage": ["logs/x: record 3"]}))
    >>> str(damage_error([run]))
    'logs is damaged (logs/x: record 3); the 1 epoch read before the damage is shown'
    """
    damaged = [r for r in runs if r.meta.extra.get("damage")]
    if not damaged:
        return None
    first = damaged[0]
    n = len(first.epochs)
    more = f" (and {len(damaged) - 1} other source(s))" if len(damaged) > 1 else ""
    return DamagedInputError(
        f"{first.meta.source} is damaged ({first.meta.extra['damage'][0]}){more}; the {n} epoch{'s' if n != 1 else ''} "
        f"read before the damage {'are' if n != 1 else 'is'} shown"
    )


def parse_text(text: str | bytes, *, source: str = "<text>") -> list[Run]:
    """Parse log text (or CSVLogger / History JSON text) held in memory."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    return _read_stream(io.BytesIO(data), source)


__all__ = ["damage_error", "load_run", "load_runs", "parse_text"]
