"""The record's subscribers brought to the settings: who receives the commitments' email
is what the database says now (``store.subscribers``), the config file's recipients
among them, kept in step with the file wherever the config is loaded."""

from __future__ import annotations

from config.settings import Settings
from storage import Store


def with_subscribers(settings: Settings, store: Store) -> Settings:
    """``settings`` whose ``subscribers`` are the record's active subscribers now."""
    return settings.model_copy(update={"audience": tuple(store.subscribers.active())})


def synced(settings: Settings, store: Store) -> Settings:
    """Make the config file's recipients subscribers as it says, then ``with_subscribers``."""
    store.subscribers.sync(settings.recipients)
    return with_subscribers(settings, store)
