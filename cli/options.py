"""Options several commands share, declared once so their names, help and checks agree."""

from __future__ import annotations

from typing import Annotated

import typer

NValOption = Annotated[
    int | None, typer.Option("--n-val", metavar="N", help="Validation samples, when the log does not say.")
]
ClassesOption = Annotated[
    int | None, typer.Option("--classes", metavar="K", help="Number of classes (2 = one sigmoid output).")
]

GroupByOption = Annotated[
    str | None, typer.Option(
        "--group-by", metavar="KEYS", help="Comma-separated settings that make runs one configuration, e.g. "
        "pooling or n_val (default: what the runs' metadata records; each log alone).")
]


def group_keys(group_by: str | None) -> list[str] | None:
    """The keys of ``--group-by`` (None when not given); no key at all is an ArgumentError."""
    from dynamics.errors import ArgumentError

    if group_by is None:
        return None
    keys = [k.strip() for k in group_by.split(",") if k.strip()]
    if not keys:
        raise ArgumentError(f"--group-by needs at least one key. Received: --group-by {group_by!r}")
    return keys


def check_counts(n_val: int | None, classes: int | None) -> None:
    """Refuse impossible ``--n-val`` / ``--classes`` values before any work, in one line."""
    from dynamics.errors import ArgumentError

    if n_val is not None and n_val <= 0:
        raise ArgumentError(f"--n-val must be a positive number of samples. Received: --n-val {n_val}")
    if classes is not None and classes < 2:
        raise ArgumentError(f"--classes must be at least 2. Received: --classes {classes}")
