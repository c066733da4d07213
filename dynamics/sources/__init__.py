"""Where runs come from: every reader that turns a file, a folder or pasted text into :class:`~dynamics.run.Run`.

:mod:`.io` sniffs a source and dispatches (``load_runs``, ``load_run``);
:mod:`.parse` reads printed Keras logs of every era; :mod:`.csvlogger`,
:mod:`.history` and :mod:`.notebook` read CSVLogger files, History JSON and
notebooks; :mod:`.tensorboard` (with :mod:`.tfevents`) reads event files
without TensorFlow; :mod:`.frameworks` reads Hugging Face and Lightning
histories; :mod:`.folders` finds all of these in a folder; :mod:`.rundir`
reads (and writes) recorded run directories. Nothing here imports keras or
matplotlib.
"""
