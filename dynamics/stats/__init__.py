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
"""
