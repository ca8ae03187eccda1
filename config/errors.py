"""The root of sendwatch's exceptions. It lives in the lowest layer, config, so that every
layer's errors (the core's, the record's, the application's) can derive from it."""


class SendwatchError(Exception):
    """Base of every error sendwatch raises on purpose."""


class ConfigError(SendwatchError):
    """The configuration cannot be used. ``str(error)`` is the whole message for the user."""
