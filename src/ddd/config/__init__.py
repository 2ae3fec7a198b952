"""The workflow's config, resolved (planning: imports nothing heavy)."""

from ddd.config.resolve import STUDY_KINDS, Config, ConfigError, resolve_config

__all__ = ["Config", "ConfigError", "STUDY_KINDS", "resolve_config"]
