"""Pretrained models as decision makers (docs/reproduction.md#pretrained-models).

- :mod:`ddd.pretrained.spec`: model specs and their preprocessing, and :func:`~ddd.pretrained.spec.precheck_model`,
  the planning-time check (names known, local weights file present); light: no torch;
- :mod:`ddd.pretrained.preprocess`: the library's own preprocessing of a model (``preprocessing:
  auto``) with the spec's keys on top, resolved in the job;
- :mod:`ddd.pretrained.names`: the timm and open_clip model names (a shipped snapshot for planning)
  and the checks listing the closest names;
- :mod:`ddd.pretrained.weights`: weights files, the libraries' local caches, reading, and
  :func:`~ddd.pretrained.weights.library_models` (a study's models named by their libraries'
  names, one shared weights folder; planning: light);
- :mod:`ddd.pretrained.timm_weights`: the snapshot of timm's pretrained names planning reads;
- :mod:`ddd.pretrained.sources`: the four sources (torchvision, ``checkpoint`` builders of
  :mod:`ddd.nets`, timm, open_clip), each turning a spec into weights and a network builder;
- :mod:`ddd.pretrained.load`: :func:`~ddd.pretrained.load.check_model` (keys, shapes and class count
  checked before inference) and :func:`~ddd.pretrained.load.load_model`;
- :mod:`ddd.pretrained.clip`: CLIP's zero-shot head;
- :mod:`ddd.pretrained.infer`: :func:`~ddd.pretrained.infer.infer` runs a model over a dataset's
  evaluation split and writes the same decisions HDF5 as a training run.

Nothing is downloaded: weights come from local files or the libraries' local caches. This module
imports nothing heavy.
"""
