"""Training: the settings of a run, the loop that runs it, and the background jobs the pages steer.

- ``config``: ``TrainConfig`` and the arithmetic of epochs, batches and the validation split.
- ``run``: ``train_model``, one whole run from compile to test score; ``loop``: CNN Lab's own
  training loop (Keras's ``fit`` with the same callbacks, faster on a CPU); ``focus``: hard-image
  focus; ``losses``: label smoothing on integer labels; ``callbacks``: the cosine schedule and
  progress reports (these two import Keras when imported).
- ``jobs``: a run in a background thread that a page polls, pauses and stops, and the queue
  that shares the CPU between sessions; ``give_way``: runs wait between batches while a page's
  script runs, so the pages keep their share of the CPU.
- ``recipes``: the fast recipe of each dataset; ``small_data``: settings for a few photos of a
  user's own classes or faces; ``benchmarks``: the saved figures the pages show.
- ``cli``: the command line, ``python -m core.train``.
"""
