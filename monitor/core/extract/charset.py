"""From a response's bytes to the page's text, whatever the server or the page claims.

Servers' Content-Type charsets are often wrong and a page that changes encoding between
two fetches has not changed: the bytes themselves are trusted first (a byte-order mark,
then valid UTF-8), the claims after them.
"""

from __future__ import annotations

import codecs
import re

_BOMS = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
# Browsers read these labels as windows-1252 (WHATWG Encoding), and so do servers' pages:
# "iso-8859-1" pages routinely contain curly quotes in the 0x80-0x9F range.
_WINDOWS_1252_LABELS = frozenset({"iso8859-1", "ascii"})


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().strip("\"'"))
    except (LookupError, ValueError, TypeError):
        return None
    try:
        b"".decode(info.name)
    except LookupError:  # a bytes-to-bytes codec such as "base64" or "zlib"
        return None
    return "cp1252" if info.name in _WINDOWS_1252_LABELS else info.name


def _strict(body: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        if codec == "cp1252":  # five bytes are undefined in windows-1252, none in latin-1
            return body.decode("latin-1")
        return None


def decode_html(body: bytes, header_charset: str | None) -> str:
    """Decode a page's bytes, trusting the bytes over what the server or page claims.

    Order: a byte-order mark; valid UTF-8 (valid non-ASCII UTF-8 is almost never an
    accident, while Content-Type headers often lie); mostly valid UTF-8 (more good
    multi-byte characters than broken bytes), with the broken bytes replaced; the header
    charset if it decodes strictly; a ``<meta>`` charset in the first 2 KB; windows-1252
    with replacement.
    """
    return decode(body, header_charset)[0]


def decode(body: bytes, header_charset: str | None) -> tuple[str, bool]:
    """``decode_html``'s text, and whether it is exactly ``body`` read as UTF-8 (then the
    parser can take the bytes as they are)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), False
    header = _codec(header_charset)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # BOM-less UTF-16 text is mostly valid UTF-8 with NULs in it.
        if "\x00" in text and header and header.startswith(("utf-16", "utf-32")):
            decoded = _strict(body, header)
            if decoded is not None:
                return decoded, False
        return text, True
    return _decode_other(body, header), False


def _decode_other(body: bytes, header: str | None) -> str:
    # A UTF-8 page with one broken byte is still a UTF-8 page: reading all of it as
    # windows-1252 would turn every curly quote into mojibake and report that as a change.
    lenient = body.decode("utf-8", errors="replace")
    broken = lenient.count("\ufffd")
    if sum(1 for ch in lenient if ord(ch) > 0x7F) - broken > broken:
        return lenient
    decoded = _strict(body, header)
    if decoded is not None:
        return decoded
    match = _META_CHARSET.search(body, 0, 2048)
    meta = _codec(match.group(1).decode("ascii")) if match else None
    # A meta tag readable as ASCII cannot be describing a UTF-16/32 page.
    if meta and not meta.startswith(("utf-16", "utf-32")):
        decoded = _strict(body, meta)
        if decoded is not None:
            return decoded
    return body.decode("cp1252", errors="replace")
