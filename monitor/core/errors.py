"""One exception hierarchy, so callers can catch at the level they care about.

A ``CheckFailed`` (and its subclasses) means one source could not be checked this time:
it is recorded as a failed check and never touches the source's snapshots.
"""

from config.errors import SendwatchError
from monitor.core.document import without_controls


class CheckFailed(SendwatchError):
    """A source could not be checked; the message says why, in words for a person."""


class FetchError(CheckFailed):
    """The HTTP request failed: connection, timeout, status, size, redirects, type."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None,
                 body: bytes = b"", transient: bool = False):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (Retry-After)
        # Worth another try within the same check: the server or the connection failed
        # quickly (408, 429, 5xx, refused, broken off). A timeout is not: trying again
        # would wait as long again, holding up the pass.
        self.transient = transient
        # The start of an error response's body (the first 64 KiB or so): a 410 from GOV.UK's
        # Content API says there why the page went and where its content is now.
        self.body = body


class ExtractError(CheckFailed):
    """The response arrived but holds no usable content (e.g. the selector matched nothing)."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """What went wrong, in one line for a person: the first line of the driver's own words
    for a database error (not SQLAlchemy's SQL, parameters and link: a whole page's text,
    say, NULs included), the file and the reason for an OSError."""
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy's DBAPIError wraps the driver's
    if isinstance(cause, OSError) and cause.strerror:
        names = [str(n) for n in (cause.filename, cause.filename2) if n is not None]
        return ": ".join([" -> ".join(names), cause.strerror] if names else [cause.strerror])
    first = next((line for line in str(cause).splitlines() if line.strip()), "")
    first = " ".join(without_controls(first).split())
    if len(first) > limit:
        first = first[: limit - 1] + "…"
    return first or type(cause).__name__


def describe(exc: BaseException) -> str:
    """``Type: message`` in one line, for the record of a check that failed inside sendwatch."""
    text = one_line(exc)
    name = type(exc).__name__
    return name if text == name else f"{name}: {text}"
