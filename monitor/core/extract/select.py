"""A user's CSS selector, run on the page's lxml tree.

cssselect turns the selector into an XPath expression, which libxml2 evaluates on the same
tree the reader walks. The expression is compiled once per selector, and checked when a
source's configuration is loaded, so that a selector that is not CSS (or uses what
cssselect does not implement: ``:nth-child(2 of .x)``, ``:not()`` with a list, form-state
pseudo-classes such as ``:required``, namespaces) is refused with the configuration rather
than failing every check.

A selector picks elements of the content (the content element itself or what is inside
it), and never chrome: the template around the content is not what a source watches.
Its combinators still see the whole page (``.govuk-width-container main p``).
"""

from __future__ import annotations

from functools import lru_cache

import lxml.etree

from config.errors import SendwatchError


class InvalidSelector(SendwatchError, ValueError):  # a ValueError too: pydantic validators raise it
    """The selector is not CSS that cssselect can run; the message says why."""


@lru_cache(maxsize=128)
def compile_selector(selector: str) -> lxml.etree.XPath:
    """The selector as an XPath that finds the matching elements of a tree (or of an
    element, itself included). Raises InvalidSelector with the reason."""
    import cssselect  # loaded only when a source has a selector

    try:
        expression = cssselect.HTMLTranslator().css_to_xpath(selector, prefix="descendant-or-self::")
        xpath = lxml.etree.XPath(expression)
        # Some expressions fail only when evaluated (a namespace prefix: "svg|rect").
        xpath(lxml.etree.fromstring("<html><body><p>x</p></body></html>", lxml.etree.HTMLParser()))
    except (cssselect.SelectorError, lxml.etree.XPathError) as exc:
        raise InvalidSelector(_reason(exc)) from None
    return xpath


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:1].lower() + text[1:]


def check_selector(selector: str) -> None:
    """Raise InvalidSelector (a ValueError) if the selector cannot be run."""
    compile_selector(selector)


def outermost(elements: list) -> list:
    """The elements not inside another of them (each is read with what it holds)."""
    chosen = set(elements)
    return [e for e in elements if not any(node in chosen for node in e.iterancestors())]
