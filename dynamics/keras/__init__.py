"""Everything that runs inside Keras training -- the only modules that import keras.

:mod:`.callback` (``PredictionRecorder``) with its validation inputs
(:mod:`.inputs`), devices and processes (:mod:`.placement`), storage side
(:mod:`.storage`) and progress capture (:mod:`.capture`); :mod:`.training`
(the IMDB LSTM runs of ``dynamics train``) with :mod:`.datasets` and
:mod:`.synthetic`; :mod:`.live` (``LiveDiagnosis``); :mod:`.temperature_layer`
(the fitted temperature as a Keras layer); :mod:`.env` (importing Keras on
the configured backend with a clear error when it is missing).
"""
