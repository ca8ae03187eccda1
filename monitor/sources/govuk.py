"""GOV.UK's own APIs: the Content API (one item) and the Search API (discovery)."""

from __future__ import annotations

from monitor.sources.base import SourceKind


class GovukContentSource(SourceKind):
    """(being written)"""

    kind = "govuk-content"


class GovukSearchSource(SourceKind):
    """(being written)"""

    kind = "govuk-search"
