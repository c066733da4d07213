"""Pure statistics: functions of numpy arrays, with thin wrappers taking a Run.

Per-sample statistics of recorded runs (each module: pure functions on arrays,
a streaming accumulator where the statistic spans epochs, a ``*_table(run)``
wrapper):

* ``probabilities`` -- one epoch seen per sample (Keras's loss, correctness,
  confidence, entropy), shared by everything below;
* ``decomposition`` -- val_loss = correct part + misclassified part; the rise
  since the best epoch attributed to samples (Mukhoti; Venter);
* ``confidence`` -- confidence and entropy of right and wrong predictions;
* ``calibration`` -- top-label ECE/MCE, reliability bins, Brier + Murphy, AUC;
* ``temperature`` -- cross-fitted temperature scaling (Guo);
* ``churn`` -- samples changing class between epochs;
* ``forgetting`` -- forgetting events (Toneva);
* ``datamap`` -- confidence / variability / correctness (Swayamdipta);
* ``label_issues`` -- persistently, confidently wrong samples (cleanlab's score);
* ``seeds`` -- run-to-run spread next to within-run and binomial noise;
* ``analysis`` -- all of the above in one streaming pass over a run.

The API, one rule for every module (``__all__`` lists what is public):

* **Array functions** take the data first and positionally (``proba``,
  ``y_true``, a stack of per-epoch arrays, an epoch and a value column),
  then ``*`` and the options with defaults; they are named for the
  statistic (``calibration_error``, ``seed_spread``, ``trend_test``).
* **Run wrappers** take ``run: Run`` (or ``runs: Sequence[Run]``) first and
  are named by what they return: ``<statistic>_table(run, ...)`` for a
  table with one row per epoch (or per sample, patience, candidate),
  ``<statistic>_of_run(run, ...)`` (``_of_runs``) for the result of the
  array function ``<statistic>`` computed from the run's columns or
  predictions (``overfitting_onset_of_run``, ``seed_spread_of_runs``,
  ``analysis_of_run``). ``<statistic>_row(view)`` is one epoch's row of the
  table from an :class:`~dynamics.stats.probabilities.EpochView`, and
  ``<Statistic>Accumulator`` its streaming form (``update(view)``).
* **Results** are dataclasses inheriting
  :class:`~dynamics.stats.result.Result` (frozen where they are values), so
  each has ``to_dict()``; a table is a pandas DataFrame.
* **Errors**: a value the caller passed that the function does not accept
  (a shape, a range, an option, labels that are not class indices, NaN
  predictions) is an :class:`~dynamics.errors.ArgumentError` naming the
  broken rule and the received value; a run that lacks what the statistic
  needs (no recorded predictions, no val_accuracy column) is an
  :class:`~dynamics.errors.InputError`. Both are
  :class:`~dynamics.errors.DynamicsError`, one line each.

The names the Run wrappers had before this rule (``run_onset``,
``run_loss_rises``, ``metric_trend``, ``loss_excess``,
``confidence_bounds``, ``analyze``) remain as aliases while code outside
:mod:`dynamics.stats` uses them; they are not in ``__all__``.
"""
