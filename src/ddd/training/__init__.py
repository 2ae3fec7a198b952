"""Training one run of a condition (docs/reproduction.md#training-recipe-and-seeds).

- :mod:`ddd.training.run`: :func:`~ddd.training.run.train_run`, one job: train, evaluate every
  epoch, write the decisions and the network;
- :mod:`ddd.training.loop`: the learning-rate schedule, a training epoch, evaluation, BatchNorm
  re-estimation;
- :mod:`ddd.training.checkpoints`: per-epoch checkpoints (checksummed, verified before loading),
  resumption and rotation, the checkpoint folder's lock.

This module imports nothing.
"""
