"""Findings: what a diagnosis says, as data before prose.

A :class:`Finding` is one claim about a run together with the numbers behind
it. The printers (terminal, JSON, Markdown, HTML) only format findings; they
never compute. When the data cannot support a claim, the finding says so
(severity ``"undetermined"``) and why, instead of guessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dynamics.run import _json_ready

#: Severities, mildest first. ``undetermined`` marks "cannot tell from this
#: data, because ..." findings.
SEVERITIES = ("info", "warning", "critical", "undetermined")


@dataclass(frozen=True)
class Finding:
    """One claim about a run, with its evidence.

    Attributes
    ----------
    code : str
        Stable identifier (``"overfitting_onset"``); tests and JSON consumers
        key on it.
    severity : str
        One of :data:`SEVERITIES`.
    claim : str
        One or two sentences for a person, naming the numbers behind them
        (epoch, value, interval, p-value, sample count).
    evidence : dict
        The same numbers as data (JSON-ready after :meth:`to_dict`).
    suggestion : str or None
        A concrete next step (``EarlyStopping(monitor="val_loss", patience=2,
        restore_best_weights=True)``), when there is one.
    topic : str
        Section the finding belongs to (``"overfitting"``, ``"noise"``...).
    """

    code: str
    severity: str
    claim: str
    evidence: dict[str, Any] = field(default_factory=dict)
    suggestion: str | None = None
    topic: str = "general"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}. Received: severity={self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return _json_ready(asdict(self))
