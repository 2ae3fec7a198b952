"""The workflow's config, resolved (planning: imports nothing heavy).

- :mod:`ddd.config.resolve`: :func:`resolve_config` and :class:`Config`;
- :mod:`ddd.config.studies`: the study kinds, one class each, with one interface;
- :mod:`ddd.config.datasets`: dataset blocks and their checks;
- :mod:`ddd.config.blocks`: the ``label_issues`` and ``psychophysics`` blocks;
- :mod:`ddd.config.paths`: the path grammar of ``results/``.
"""

from ddd.config.resolve import STUDY_KINDS, Config, ConfigError, resolve_config

__all__ = ["Config", "ConfigError", "STUDY_KINDS", "resolve_config"]
