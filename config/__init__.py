"""Configuration: the settings schema, the loader and the shipped watchlist."""

from config.loader import ConfigError, load_settings, parse_settings
from config.settings import FetchSettings, Settings, SourceSettings, parse_duration

__all__ = [
    "ConfigError",
    "FetchSettings",
    "Settings",
    "SourceSettings",
    "load_settings",
    "parse_duration",
    "parse_settings",
]
