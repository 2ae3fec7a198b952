"""Pretrained models as decision makers (SPEC section 4): specs, local weights, inference.

A model spec (``ddd.pretrained.spec``) names a source (torchvision, timm, open_clip or a
``checkpoint`` builder of ``ddd.nets.checkpoints``), the local weights file and the preprocessing.
:func:`check_model` refuses a spec before inference: unknown model name, missing weights file,
keys that do not fit, class count different from the dataset's (:func:`precheck_model` does the
cheap part of that at planning time). :func:`infer` runs the model over a dataset's evaluation
split and writes the same decisions HDF5 as a training run. Nothing is downloaded: weights come
from local files or the libraries' local caches.
"""

from ddd.pretrained.clip import ZeroShotClassifier, zero_shot_weights
from ddd.pretrained.infer import eval_dataset, infer, predict
from ddd.pretrained.sources import (check_model, compare_state_dict, hf_cached_file, hub_checkpoint_path, load_model,
                      precheck_model)
from ddd.pretrained.spec import (DEFAULT_PREPROCESSING, SOURCES, ClassCountError, PretrainedModelError, Preprocess,
                   WeightsNotFoundError, normalize_spec)

__all__ = ["DEFAULT_PREPROCESSING", "SOURCES", "ClassCountError", "PretrainedModelError", "Preprocess",
           "WeightsNotFoundError", "ZeroShotClassifier", "check_model", "compare_state_dict", "eval_dataset",
           "hf_cached_file", "hub_checkpoint_path", "infer", "load_model", "normalize_spec", "precheck_model",
           "predict", "zero_shot_weights"]
