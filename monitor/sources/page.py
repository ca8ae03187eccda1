"""The ``page`` kind: an HTML page, read the way a person reads it."""

from __future__ import annotations

from pydantic import Field, field_validator

from monitor.core.document import Document
from monitor.core.errors import CheckFailed
from monitor.core.extract import check_selector, extract_page
from monitor.sources.base import NoOptions, Reading, SourceKind
from monitor.sources.fetch import Fetcher, Validators

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


class PageOptions(NoOptions):
    selector: str | None = Field(
        default=None,
        description="A CSS selector that narrows the page to the part you care about.",
    )

    @field_validator("selector")
    @classmethod
    def _valid_css(cls, value: str | None) -> str | None:
        # Caught with the config, not as a failure of every check of the source; the same
        # engine (cssselect, on lxml's tree) runs it when the page is read.
        if value is not None:
            try:
                check_selector(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a CSS selector: {exc}") from None
        return value


class PageSource(SourceKind[PageOptions]):
    """An HTML page on any site, with GOV.UK- and Parliament-aware extraction.

    Keeps the content (title, body text, attachments, document links, change history and
    withdrawn notices) and drops the template around it and per-response noise. Options:
    ``selector``, a CSS selector narrowing the page (one that is not valid CSS is refused
    with the config; one that matches nothing fails the check rather than recording an
    empty page).
    """

    kind = "page"
    reads = 2  # 2: headline figures (aside.stat-headline), footnote markers apart from their word
    Options = PageOptions
    offloads = True

    async def read(self, fetcher: Fetcher, validators: Validators | None,
                   previous: Document | None = None) -> Reading:
        response = await fetcher.get(self.settings.url, validators=validators)
        if response.not_modified:
            return Reading(None, response.url, response.status, 0, validators or response.validators)
        body = response.body
        media_type = response.media_type
        if not _looks_like_html(media_type, body):
            shown = media_type or "no Content-Type"
            raise CheckFailed(f"expected an HTML page but got {shown} ({len(body):,} bytes)")
        if _cut_short(response.headers, body):
            raise CheckFailed("the page stops before its end (no </html>) and the server did not say how long "
                              "it is: the connection was probably cut short")
        # The parse and extraction, in a worker process when the pass has them: the loop
        # goes on fetching meanwhile.
        document = await self.offload(extract_page, body, response.charset, url=response.url,
                                      selector=self.options.selector)
        return Reading(document, response.url, response.status, len(body), response.validators)


def _cut_short(headers, body: bytes) -> bool:
    """A body that ends when the connection closes (no Content-Length, not chunked) cannot
    be told from one cut short by the network, except by its end: an HTML page ends with
    </html>. With a declared length or chunked encoding, httpx itself catches truncation."""
    if "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower():
        return False
    return b"</html" not in body[-4096:].lower()


def _looks_like_html(media_type: str, body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    if head.startswith((b"%pdf", b"pk\x03\x04", b"\x89png", b"gif8", b"\xff\xd8")):
        return False  # a file served under a wrong type is still not a page
    if media_type in HTML_TYPES:
        return True
    if media_type in ("", "application/octet-stream", "text/plain"):
        return b"<html" in head or head.startswith(b"<!doctype html")
    return False
