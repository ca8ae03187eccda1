"""Text as Documents hold it: whitespace collapsed, invisible characters gone, NFC.

Two fetches of the same words must give equal text: editors and CMSs sprinkle zero-width
characters and soft hyphens, and markup indents with runs of spaces and newlines.
"""

from __future__ import annotations

import unicodedata

from monitor.core.document import without_controls

# Invisible characters that would make equal text compare unequal. (nbsp and the other
# Unicode spaces are whitespace to str.split.)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def collapse(text: str) -> str:
    """Whitespace runs (nbsp included) to one space, invisible and control characters
    removed, NFC."""
    # Controls go here, before the Document would drop them, so that "a \x1b b" is "a b".
    if text.isascii():  # the invisible characters are all non-ASCII, and ASCII is NFC
        text = " ".join(text.split())
        return text if text.isprintable() else " ".join(without_controls(text).split())
    text = " ".join(text.translate(_INVISIBLE).split())
    if not text.isprintable():
        text = " ".join(without_controls(text).split())
    return text if text.isascii() else unicodedata.normalize("NFC", text)
