"""Source kinds, registered in one place: ``KINDS`` maps a config ``kind`` to its class."""

from typing import Any

from config.settings import SourceSettings
from monitor.sources.base import Offload, Reading, SourceKind, in_process
from monitor.sources.feed import FeedSource
from monitor.sources.govuk import GovukContentSource, GovukSearchSource
from monitor.sources.page import PageSource
from monitor.sources.parliament import ParliamentCommitteeSource
from monitor.sources.written import WrittenAnswersSource, WrittenStatementsSource

KINDS: dict[str, type[SourceKind[Any]]] = {
    cls.kind: cls
    for cls in (PageSource, GovukContentSource, GovukSearchSource, FeedSource, ParliamentCommitteeSource,
                WrittenAnswersSource, WrittenStatementsSource)
}

# The kinds whose items are documents discovered (search results, feed entries, committee
# publications, written answers and statements), not parts of one watched page.
DISCOVERY_KINDS = tuple(kind for kind, cls in KINDS.items() if cls.discovers)
# Those whose documents measure how common a phrase is (SourceKind.measures_phrases).
PHRASE_CORPUS_KINDS = tuple(kind for kind in DISCOVERY_KINDS if KINDS[kind].measures_phrases)


# What each kind's reading is now (SourceKind.reads), for the record to compare with.
READS: dict[str, int] = {kind: cls.reads for kind, cls in KINDS.items()}


def make_source(settings: SourceSettings, offload: Offload = in_process) -> SourceKind[Any]:
    return KINDS[settings.kind](settings, offload)


__all__ = ["DISCOVERY_KINDS", "KINDS", "PHRASE_CORPUS_KINDS", "READS", "Offload", "Reading", "SourceKind", "in_process",
           "make_source"]
