"""The verdict as data: loss pattern, accuracy pattern, the epoch to keep, and the claims.

Runs after the other log-level producers and decides from ``ctx.facts``
alone, in a fixed order: the sanity checks first (no validation, a diverged
or an impossible loss say more than any curve shape), then the curve
classifiers of :mod:`dynamics.diagnosis.patterns`. Each decision records the
rule that fired with its numbers (:class:`Rule`); the words come after, from
:mod:`dynamics.diagnosis.verdict_text`, so the verdict never says more than
the data it was decided from.

The vocabulary is stable (users gate CI on it): :data:`LOSS_PATTERNS`,
:data:`ACCURACY_PATTERNS` and :data:`CLAIMS`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dynamics.diagnosis import verdict_text
from dynamics.diagnosis.context import Context
from dynamics.findings import Finding
from dynamics.run import _json_ready
from dynamics.stats import accuracy_curve, curves

#: Loss patterns: the curve shapes of :mod:`dynamics.stats.curves` and the sanity outcomes.
LOSS_PATTERNS = curves.LOSS_PATTERNS + ("invalid", "diverged", "no_validation")
#: Accuracy patterns of :mod:`dynamics.stats.accuracy_curve`.
ACCURACY_PATTERNS = accuracy_curve.ACCURACY_PATTERNS
#: What a verdict may claim.
CLAIMS = ("overfitting", "one_class", "optimisation_problem", "noise_only", "real_change", "chance_level", "improving")

#: Which claim each pattern makes; patterns not listed make none.
_LOSS_CLAIMS = {"overfitting": "overfitting", "improving": "improving", "both_rising": "optimisation_problem",
                "diverged": "optimisation_problem"}
_ACCURACY_CLAIMS = {"stuck_one_class": "one_class", "chance_level": "chance_level", "flat_within_noise": "noise_only",
                    "rising": "real_change", "real_decline": "real_change"}


@dataclass(frozen=True)
class Rule:
    """One decision of the verdict: what it is about, the outcome, the rule that fired, its numbers."""

    subject: str  # "loss", "accuracy" or "keep"
    outcome: str | int | None
    rule: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verdict:
    """The verdict of a diagnosis, as data; ``text`` is its wording.

    Attributes
    ----------
    loss_pattern : str
        One of :data:`LOSS_PATTERNS`.
    accuracy_pattern : str
        One of :data:`ACCURACY_PATTERNS`.
    keep_epoch : int or None
        The epoch whose weights to keep (None where no epoch is worth it:
        no validation, a chance-level or one-class model that is not
        improving).
    claims : list of str
        Drawn from :data:`CLAIMS`.
    rules : list of Rule
        Why: one rule per decision, with the numbers and thresholds.
    text : str
        A few sentences, most important first, each with its numbers.
    """

    loss_pattern: str
    accuracy_pattern: str
    keep_epoch: int | None
    claims: list[str]
    rules: list[Rule] = field(default_factory=list)
    text: str = ""

    def __str__(self) -> str:
        return self.text

    def __contains__(self, phrase: str) -> bool:
        return phrase in self.text

    def to_dict(self) -> dict[str, Any]:
        return _json_ready({"text": self.text, "loss_pattern": self.loss_pattern,
                            "accuracy_pattern": self.accuracy_pattern, "keep_epoch": self.keep_epoch,
                            "claims": list(self.claims), "rules": [r.to_dict() for r in self.rules]})


def decide(ctx: Context) -> Verdict:
    """Decide the verdict from the facts the producers left (no prose)."""
    facts, run = ctx.facts, ctx.run
    has_val = any(c.startswith("val_") for c in run.metrics)
    loss = facts.loss_curve
    rules: list[Rule] = []
    if not has_val or loss is None:
        loss_pattern = "no_validation"
        rules.append(Rule("loss", loss_pattern, "no_val_metrics", {"metrics": run.metrics}))
    elif facts.diverged is not None:
        loss_pattern = "diverged"
        rules.append(Rule("loss", loss_pattern, "non_finite_loss", {"first_epoch": facts.diverged}))
    elif facts.val_loss_invalid or facts.glitch_epochs.get("val_"):
        loss_pattern = "invalid"
        why = ("below_any_crossentropy" if facts.not_crossentropy.get("val_") else
               "above_clipped_crossentropy" if facts.above_clipped.get("val_") else "impossible_epochs")
        epochs = (facts.not_crossentropy.get("val_") or facts.above_clipped.get("val_")
                  or facts.glitch_epochs.get("val_"))
        rules.append(Rule("loss", loss_pattern, why, {"epochs": epochs}))
    else:
        loss_pattern = loss.pattern
        rules.append(Rule("loss", loss_pattern, loss.rule, loss.to_dict()))
    acc = facts.accuracy_curve
    accuracy_pattern = acc.pattern if acc is not None and loss_pattern != "no_validation" else "unknown"
    if acc is not None:
        rules.append(Rule("accuracy", accuracy_pattern, acc.rule, acc.to_dict()))
    keep, keep_rule = _keep(loss_pattern, accuracy_pattern, loss)
    rules.append(Rule("keep", keep, keep_rule, {"best_epoch": loss.best_epoch if loss else None,
                                                "best_val_loss": loss.best_value if loss else None}))
    claims = [c for c in (_LOSS_CLAIMS.get(loss_pattern), _ACCURACY_CLAIMS.get(accuracy_pattern)) if c]
    return Verdict(loss_pattern, accuracy_pattern, keep, claims, rules)


def _keep(loss_pattern: str, accuracy_pattern: str, loss: Any) -> tuple[int | None, str]:
    if loss_pattern == "no_validation" or loss is None or loss.best_epoch is None:
        return None, "nothing_measured_on_validation"
    if accuracy_pattern == "chance_level":
        return None, "no_epoch_beats_chance"
    if accuracy_pattern == "stuck_one_class" and loss_pattern != "improving":
        return None, "one_class_not_improving"
    return loss.best_epoch, "lowest_valid_val_loss"


def produce(ctx: Context) -> list[Finding]:
    """Decide the verdict (``ctx.facts.verdict``) and offer its sentences; returns no findings."""
    v = decide(ctx)
    ctx.facts.verdict = v
    for priority, sentence, key in verdict_text.sentences(v, ctx):
        ctx.offer_verdict(priority, sentence, key=key)
    return []
