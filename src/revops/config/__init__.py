"""The operating model (revops.yaml): validated, versioned configuration."""

from pathlib import Path

from revops.config.loader import ConfigError, LoadedConfig, load_config
from revops.config.models import OperatingModel

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")

__all__ = ["DEFAULT_CONFIG", "ConfigError", "LoadedConfig", "OperatingModel", "load_config"]
