"""What is not content: the template around it and what no reader sees.

An element is chrome by its tag (scripts, forms' controls, navigation, footers), its
role, its classes and ids (the GOV.UK and Parliament templates', listed in ``sites``), or
by being hidden (``hidden``, ``aria-hidden="true"``, ``display:none``). A ``header`` is
chrome unless it holds an ``h1``: a page's title block is content, the site header never
holds one. A chrome element goes with everything inside it; the text after it continues
the text before it.
"""

from __future__ import annotations

from monitor.core.extract.sites import CHROME_CLASSES, CHROME_IDS, CONTENT_ASIDE_CLASS

# Elements whose text is never content: code, controls, navigation, page furniture.
CHROME_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "math", "head", "title", "meta",
        "link", "input", "select", "textarea", "button", "option", "datalist", "label",
        "iframe", "object", "embed", "canvas", "nav", "footer", "aside", "dialog",
    }
)  # fmt: skip
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})
# The attributes besides class that can make an element chrome: an element with none of
# them (most are so) needs no further look.
_CHROME_ATTRIBUTES = frozenset({"id", "role", "hidden", "aria-hidden", "style"})


def classify(element) -> tuple[bool, list[str] | None]:
    """Whether the element is chrome by its tag and attributes (the header rule aside),
    and its class names (None when it has none), which the reader needs next."""
    tag = element.tag
    if tag in CHROME_TAGS and (tag != "aside" or not _content_aside(element.get("class"))):
        return True, None
    # One call for the attribute names, then only the values that can matter: reading
    # every candidate of every element would cost more than the rest of the test.
    keys = element.keys()
    if not keys:
        return False, None
    classes = None
    if "class" in keys:
        value = element.get("class")
        if value:
            classes = value.split()
            if not CHROME_CLASSES.isdisjoint(classes):
                return True, classes
    return (not _CHROME_ATTRIBUTES.isdisjoint(keys) and _chrome_by_attributes(element.get)), classes


def _content_aside(classes: str | None) -> bool:
    return classes is not None and CONTENT_ASIDE_CLASS in classes.split()


def _chrome_by_attributes(get) -> bool:
    if get("id") in CHROME_IDS or get("role") in _CHROME_ROLES:
        return True
    # hidden="until-found" is searchable, collapsed content (accordions), not hidden.
    hidden = get("hidden")
    if hidden is not None and hidden != "until-found":
        return True
    if get("aria-hidden") == "true":
        return True
    style = get("style")
    return bool(style) and "display:none" in style.replace(" ", "").lower()


def by_markup(element) -> bool:
    """Whether the element is chrome by its tag or attributes."""
    return classify(element)[0]


def is_chrome(element) -> bool:
    """Whether the element is chrome: by its markup, or a header without an h1 in it."""
    if by_markup(element):
        return True
    return element.tag == "header" and element.find(".//h1") is None


def keeps_h1(header) -> bool:
    """Whether a header still holds an h1 outside the chrome inside it.

    A header whose only h1 is hidden (``<header><div hidden><h1>``) is the page's header
    with its title hidden, not a title block: it is left out too.
    """
    for h1 in header.iterdescendants("h1"):
        node = h1
        while node is not header:
            if by_markup(node):
                break
            node = node.getparent()
        else:
            return True
    return False


def skipped(element) -> bool:
    """Whether the reader leaves the element out: chrome, or a header whose h1 is all in chrome."""
    return is_chrome(element) or (element.tag == "header" and not keeps_h1(element))
