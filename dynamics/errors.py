"""The one family of exceptions a user of dynamics is meant to see.

The CLI turns any :class:`DynamicsError` into a single line on stderr and a
non-zero exit code; anything else that escapes is a bug in dynamics.
"""

from __future__ import annotations


class DynamicsError(Exception):
    """Base class: an error whose message is fit to show a user as one line."""

    exit_code = 2


class InputError(DynamicsError):
    """The input cannot be read or is not something dynamics understands."""


class NoEpochsError(InputError):
    """The input was read, but it holds no complete training epoch."""


class DamagedInputError(InputError):
    """Part of a source is damaged (a truncated event file, a wrong CRC).

    What was readable before the damage is kept: the loaders put it in the
    runs they return and say where the damage is (``meta.extra["damage"]``,
    ``meta.notes``); the CLI shows it, then exits with this error.
    """


class MissingDependencyError(DynamicsError):
    """An optional dependency (an extra such as ``[train]``) is not installed."""

    exit_code = 3


class DataUnavailableError(DynamicsError):
    """A dataset cannot be loaded (no network, no local copy)."""

    exit_code = 4


class ArgumentError(DynamicsError, ValueError):
    """An argument has a value outside what the function accepts.

    Messages follow Keras's convention and name the received value:
    ``"patience must be >= 0. Received: patience=-1"``.
    """
