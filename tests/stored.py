"""What the storage tests record: a source, versions of its document, and when it was read."""

from datetime import UTC, datetime, timedelta

from config import SourceSettings
from monitor.core.document import ATTACHMENT, Document, Item
from storage import CheckMeta, Store

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SOURCE = SourceSettings(id="code", url="https://www.gov.uk/code")
V1 = Document("Code", ("Chapter 1.",))
V2 = Document("Code", ("Chapter 1.", "Chapter 2."),
              (Item(ATTACHMENT, "https://www.gov.uk/c.pdf", "Code (PDF)"),))


def at(hours: float) -> CheckMeta:
    return CheckMeta(T0 + timedelta(hours=hours), 120, 200, 50_000)


def open_store(url) -> Store:
    store = Store(url)
    store.sources.sync([SOURCE])
    return store
