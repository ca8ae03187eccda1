"""What identifies a document by its address, whatever route found it, and which documents
are parts of others (a GOV.UK publication's HTML parts live under its own path)."""

from __future__ import annotations

from urllib.parse import urlsplit

from config.settings import is_web_url

_GOVUK_HOSTS = ("www.gov.uk", "gov.uk")


def document_key(url: str | None) -> str | None:
    """What identifies a document whatever route found it: its GOV.UK path for a GOV.UK
    address (``gov.uk:/government/publications/x``), else its address without scheme,
    query, fragment or trailing slash."""
    if not url or not is_web_url(url):
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/") or "/"
    if host in _GOVUK_HOSTS:
        return f"gov.uk:{path}"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{path}"


def part_of(url: str | None, whole: str | None) -> bool:
    """Whether the document at ``url`` is a part of the one at ``whole`` (under its path,
    not the same document): GOV.UK publishes a publication's HTML parts, such as the SEND
    and AP roadmap of the improvement plan, at ``<the publication's path>/<part>``."""
    key, of = document_key(url), document_key(whole)
    return bool(key and of and of.rsplit(":", 1)[-1] != "/" and key.startswith(of + "/"))


def same_document(url: str | None, other: str | None) -> bool:
    key = document_key(url)
    return key is not None and key == document_key(other)
