"""One exception hierarchy, so callers can catch at the level they care about.

A ``CheckFailed`` (and its subclasses) means one source could not be checked this time:
it is recorded as a failed check and never touches the source's snapshots.
"""


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
