"""Printers: a :class:`~dynamics.diagnose.Diagnosis` for people and programs.

Printers only format what :func:`dynamics.diagnose.diagnose` computed; they
never compute statistics themselves. :mod:`dynamics.report.terminal` prints
with rich; ``Diagnosis.to_dict()`` is the JSON form.
"""

from __future__ import annotations

__all__ = ["render", "render_text"]


def render(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`dynamics.report.terminal.render` (imported lazily: rich is only loaded to print)."""
    from dynamics.report.terminal import render as _render

    return _render(*args, **kwargs)


def render_text(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`dynamics.report.terminal.render_text`."""
    from dynamics.report.terminal import render_text as _render_text

    return _render_text(*args, **kwargs)


# HTML and Markdown reports (dynamics.report.writer); matplotlib is loaded only when one is drawn.
__all__ += ["write_report", "write_compare_report"]


def write_report(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`dynamics.report.writer.write_report`: diagnose sources, write ``.html`` or ``.md``."""
    from dynamics.report.writer import write_report as _write_report

    return _write_report(*args, **kwargs)


def write_compare_report(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`dynamics.report.writer.write_compare_report`."""
    from dynamics.report.writer import write_compare_report as _write

    return _write(*args, **kwargs)
