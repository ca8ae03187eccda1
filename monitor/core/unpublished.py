"""A page promised and not yet published: a source with ``expected = true``.

Until such a page first appears, a 404 or 410 is the answer sendwatch expects, not a
broken source: the check succeeds and records NOT_YET, a document no page has, so the
record shows from when sendwatch waited for it. The page's appearance is then a change
from NOT_YET to the page, and a development for each commitment of the source whatever
the page says: the commitment is why the page was awaited, and its being there is the news.
"""

from __future__ import annotations

from config.settings import SourceSettings
from monitor.core.addresses import document_key
from monitor.core.document import Document
from monitor.core.drafts import DevelopmentDraft

NOT_YET = Document(title="(not yet published)")
NOT_YET_STATUSES = (404, 410)
UNPUBLISHED = "unpublished"  # the outcome of a check that found the page not there yet
EVIDENCE = "expected page"  # where the development's evidence was found


def still_awaited(settings: SourceSettings, current: Document | None) -> bool:
    """Whether the source is an expected page that has never appeared (``current``: its
    current snapshot's document, None before any)."""
    return settings.expected and (current is None or current == NOT_YET)


def not_yet(settings: SourceSettings, current: Document | None, status: int | None) -> bool:
    """Whether an answer with HTTP ``status`` means "not published yet" for this source."""
    return status in NOT_YET_STATUSES and still_awaited(settings, current)


def not_yet_summary(status: int | None) -> str:
    return f"not yet published (HTTP {status}); checked again at its next turn"


def appearance(settings: SourceSettings, page: Document, url: str) -> tuple[str, list[DevelopmentDraft]]:
    """The summary of an awaited page's appearance, and its development for each of the
    source's commitments."""
    title = " ".join(page.title.split()) or url
    what = f"published '{title}'"
    evidence = [{"phrase": "(page expected for this commitment)", "where": EVIDENCE,
                 "text": f"{url} answered with the page after being awaited", "weight": 1.0}]
    # Known by its address, as a search or feed finding the same page would know it: one
    # development per commitment whichever route sees it first.
    drafts = [DevelopmentDraft(commitment_id=commitment_id, title=what, score=1.0, evidence=evidence, url=url,
                               document_key=document_key(url), document_title=title)
              for commitment_id in settings.commitments]
    return f"{what}: the expected page appeared", drafts
