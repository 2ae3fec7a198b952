"""Training one run of a condition (docs/reproduction.md#training-recipe-and-seeds).

- :mod:`ddd.training.run`: :func:`~ddd.training.run.train_run`, one job: train, evaluate every
  epoch, write the decisions and the network;
- :mod:`ddd.training.loop`: the learning-rate schedule, a training epoch, evaluation, BatchNorm
  re-estimation;
- :mod:`ddd.training.checkpoints`: per-epoch checkpoints, resumption and rotation.

This module imports nothing.
"""
