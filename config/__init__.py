"""Configuration: the settings schema, the loader and the shipped watchlist."""

from config.errors import ConfigError, SendwatchError
from config.loader import load_settings, parse_settings
from config.settings import FetchSettings, Settings, SourceSettings, parse_duration

__all__ = [
    "ConfigError",
    "FetchSettings",
    "Settings",
    "SendwatchError",
    "SourceSettings",
    "load_settings",
    "parse_duration",
    "parse_settings",
]
