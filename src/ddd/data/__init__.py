"""Datasets: the generated Gaussian-noise set and local copies of image datasets.

- :mod:`ddd.data.gaussian`: the paper's synthetic Gaussian-noise set, generated from (seed, split, index);
- :mod:`ddd.data.digits`: scikit-learn's copy of the UCI handwritten digits (8 x 8, offline), split seeded;
- :mod:`ddd.data.folders`: where local datasets live and their layout checks (no heavy imports);
- :mod:`ddd.data.cifar`: the CIFAR-100 python-pickle release;
- :mod:`ddd.data.images`: folder datasets as torch Datasets, the paper's transforms, fingerprints;
- :mod:`ddd.data.loading`: one entry point for every dataset (:func:`~ddd.data.loading.load_split`);
- :mod:`ddd.data.pixels`: an evaluation image's pixels as a person sees them.

This module holds only names planning needs; it imports nothing.
"""

#: Dataset kinds a config can name.
KINDS = ("gaussian", "cifar100", "imagenet", "imagefolder", "digits")
#: ImageNet's channel means and standard deviations (RGB), the normalisation of every image dataset.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
