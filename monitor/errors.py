"""One exception hierarchy, so callers can catch at the level they care about.

A ``CheckFailed`` (and its subclasses) means one source could not be checked this time:
it is recorded as a failed check and never touches the source's snapshots.
"""

from monitor.document import without_controls


class SendwatchError(Exception):
    """Base of every error sendwatch raises on purpose."""


class CheckFailed(SendwatchError):
    """A source could not be checked; the message says why, in words for a person."""


class FetchError(CheckFailed):
    """The HTTP request failed: connection, timeout, status, size, redirects, type."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None,
                 body: bytes = b""):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        # The start of an error response's body (the first 64 KiB or so): a 410 from GOV.UK's
        # Content API says there why the page went and where its content is now.
        self.body = body


class ExtractError(CheckFailed):
    """The response arrived but holds no usable content (e.g. the selector matched nothing)."""


def describe(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` in one line, for a person and for the record of a failed check.

    A database error's text carries the SQL statement and its parameters (a whole page's
    text, say, NULs included): of such an error only the database's own first line is kept.
    """
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None and getattr(exc, "statement", None) is not None else exc)
    first = next((line for line in text.splitlines() if line.strip()), "")
    first = " ".join(without_controls(first).split())
    if len(first) > limit:
        first = first[: limit - 1] + "…"
    name = type(exc).__name__
    return f"{name}: {first}" if first else name
