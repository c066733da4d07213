"""Figures for reports: matplotlib ``Figure`` objects built without pyplot.

Every function here takes numbers that were already computed -- a
:class:`~dynamics.diagnose.Diagnosis` (its findings and ``tables``), a
:class:`~dynamics.stats.analysis.SampleAnalysis` or a
:class:`~dynamics.diagnosis.compare.Comparison` -- and only draws them; none computes a
statistic of its own, so a plot always shows exactly the numbers the
terminal report prints. None saves anything: the report writers render the
returned figures.

* :mod:`dynamics.plots.log` -- what a log shows: loss and accuracy curves with
  the binomial band, elided epochs as breaks, best epoch and early-stopping
  what-ifs; the generalization gap; the bounds on the loss of mistakes.
* :mod:`dynamics.plots.samples` -- what a recorded run shows: confidence of
  right and wrong predictions over epochs, reliability diagrams, the loss
  decomposition, temperature scaling, churn, the data map.
* :mod:`dynamics.plots.compare` -- several runs side by side, seeds as a band.

matplotlib (Agg canvas) is imported by those modules only, never by this
package's ``__init__``, so analysing a log never loads it.
"""
