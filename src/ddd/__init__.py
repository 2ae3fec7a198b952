"""ddd: dichotomous data difficulty.

Train controlled variants of classifiers, record every evaluation image's decision, and measure
whether models really differ or whether the data decides (error consistency, trivial /
in-between / impossible splits). Reproduces Meding et al., "Trivial or Impossible --
dichotomous data difficulty masks model differences (on ImageNet and beyond)", ICLR 2022.
"""

__version__ = "0.2.0"  # equal to pyproject.toml's version (tests/test_envs.py); releases are tagged v<version>
