# ruff: noqa: E501 - the templates copy GOV.UK markup line for line; wrapping would hide it.
"""Realistic GOV.UK- and Parliament-shaped HTML, for extraction tests and the benchmark.

The template follows what www.gov.uk serves for a publication page: the content sits in
``main#content`` and everything around it (cookie banner, super navigation, breadcrumbs,
sidebar, feedback form, footer) is chrome. Each call can add the per-response noise the
real site adds (nonces, CSRF tokens, random ids, analytics attributes, fingerprinted
asset URLs), so tests can check that noise never reaches a Document.

Body text uses a tiny Govspeak-like markup, one entry per block:
``"## Heading"``, ``"### Subheading"``, ``"- bullet"`` (consecutive bullets form one
list), ``"> inset text"``, ``"| cell | cell |"`` (consecutive rows form one table, the
first row is the header), anything else is a paragraph. Inline ``[text](href)`` makes a
link. Text is HTML-escaped, so tests can put ``<`` or ``&`` in content safely.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape

__all__ = ["PageContent", "render_govuk_page", "render_parliament_page"]


@dataclass
class PageContent:
    title: str
    summary: str = ""
    body: list[str] = field(default_factory=list)
    # (title, url, metadata such as "PDF, 1.2 MB, 40 pages" or "" for none)
    attachments: list[tuple[str, str, str]] = field(default_factory=list)
    # (ISO 8601 instant, note), newest first as GOV.UK shows them
    change_history: list[tuple[str, str]] = field(default_factory=list)
    # (ISO date, explanation) when the page has been withdrawn
    withdrawn: tuple[str, str] | None = None
    document_type: str = "Guidance"
    organisations: list[tuple[str, str]] = field(
        default_factory=lambda: [
            ("Department for Education", "/government/organisations/department-for-education")
        ]
    )
    base_path: str = "/government/publications/example"


# --- site-wide navigation ------------------------------------------------------------------

_TOPICS = [
    ("Benefits", "/browse/benefits"),
    ("Births, death, marriages and care", "/browse/births-deaths-marriages"),
    ("Business and self-employed", "/browse/business"),
    ("Childcare and parenting", "/browse/childcare-parenting"),
    ("Citizenship and living in the UK", "/browse/citizenship"),
    ("Crime, justice and the law", "/browse/justice"),
    ("Disabled people", "/browse/disabilities"),
    ("Driving and transport", "/browse/driving"),
    ("Education and learning", "/browse/education"),
    ("Employing people", "/browse/employing-people"),
    ("Environment and countryside", "/browse/environment-countryside"),
    ("Housing and local services", "/browse/housing-local-services"),
    ("Money and tax", "/browse/tax"),
    ("Passports, travel and living abroad", "/browse/abroad"),
    ("Visas and immigration", "/browse/visas-immigration"),
    ("Working, jobs and pensions", "/browse/working"),
]
_ACTIVITY = [
    ("Departments", "/government/organisations"),
    ("News", "/search/news-and-communications"),
    ("Guidance and regulation", "/search/guidance-and-regulation"),
    ("Research and statistics", "/search/research-and-statistics"),
    ("Policy papers and consultations", "/search/policy-papers-and-consultations"),
    ("Transparency", "/search/transparency-and-freedom-of-information-releases"),
    ("How government works", "/government/how-government-works"),
    ("Get involved", "/government/get-involved"),
]
# A later redesign of the menus: other words, other order, an extra entry.
_TOPICS_ALT = [
    (f"{name} services", href + "/services") for name, href in reversed(_TOPICS)
] + [("Coronavirus (COVID-19)", "/coronavirus")]
_ACTIVITY_ALT = [(name.upper(), href + "?v=2") for name, href in _ACTIVITY]
_SUPPORT = [
    ("Help", "/help"),
    ("Privacy", "/help/privacy-notice"),
    ("Cookies", "/help/cookies"),
    ("Accessibility statement", "/help/accessibility-statement"),
    ("Contact", "/contact"),
    ("Terms and conditions", "/help/terms-conditions"),
    ("Rhestr o Wasanaethau Cymraeg", "/cymraeg"),
    ("Government Digital Service", "/government/organisations/government-digital-service"),
]

COOKIE_BANNER_TEXT = "We use some essential cookies to make this website work."
FOOTER_TEXT = "All content is available under the"
FEEDBACK_TEXT = "Is this page useful?"
EMAILS_TEXT = "Get emails about this page"
BREADCRUMB_TEXT = "Special educational needs and disability (SEND) and high needs"
EMERGENCY_BANNER_TEXT = "His Majesty the King has announced a national day of mourning"
GLOBAL_BANNER_TEXT = "Register to vote by 18 June"
RELATED_TEXT = "Related content"


class _Noise:
    """Per-response randomness: the same seed gives the same bytes."""

    def __init__(self, seed: int | None):
        self.rng = random.Random(seed)

    def hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def token(self, n: int = 86) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def ga4(self, **fields) -> str:
        fields.setdefault("index_total", self.rng.randint(1, 40))
        fields["event_id"] = self.hex(12)
        return escape(json.dumps(fields), quote=True)


def _link(text: str, href: str, cls: str = "govuk-link", attrs: str = "") -> str:
    return f'<a class="{cls}" href="{escape(href)}"{attrs}>{escape(text)}</a>'


_INLINE_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def _inline(text: str) -> str:
    out, last = [], 0
    for m in _INLINE_LINK.finditer(text):
        out.append(escape(text[last : m.start()]))
        out.append(_link(m.group(1), m.group(2)))
        last = m.end()
    out.append(escape(text[last:]))
    return "".join(out)


def _govspeak(lines: list[str], noise: _Noise) -> str:
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("### "):
            slug = re.sub(r"[^a-z0-9]+", "-", line[4:].lower()).strip("-")
            out.append(f'<h3 id="{slug}">{_inline(line[4:])}</h3>')
        elif line.startswith("## "):
            slug = re.sub(r"[^a-z0-9]+", "-", line[3:].lower()).strip("-")
            out.append(f'<h2 id="{slug}">{_inline(line[3:])}</h2>')
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>\n" + "\n".join(items) + "\n</ul>")
            continue
        elif line.startswith("| "):
            rows = []
            while i < len(lines) and lines[i].startswith("| "):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                tag = "th" if not rows else "td"
                rows.append(
                    "<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>"
                )
                i += 1
            head, rest = rows[0], rows[1:]
            out.append(
                f'<table><thead>{head}</thead><tbody>{"".join(rest)}</tbody></table>'
            )
            continue
        elif line.startswith("> "):
            out.append(
                f'<div role="note" aria-label="Information" id="inset-text-{noise.hex(8)}" '
                f'class="govuk-inset-text"><p>{_inline(line[2:])}</p></div>'
            )
        else:
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    return "\n".join(out)


def _human_date(iso: str) -> str:
    day = datetime.fromisoformat(iso.replace("Z", "+00:00")) if "T" in iso else None
    d = day.date() if day else date.fromisoformat(iso)
    return f"{d.day} {d.strftime('%B %Y')}"


# --- the page parts ------------------------------------------------------------------------


def _head(title: str, noise: _Noise, charset: str, content: PageContent, pad: str) -> str:
    asset = noise.hex(8)
    return f"""<head>
    <meta charset="{charset}">
    <title lang="en">{escape(title)} - GOV.UK</title>
    <script nonce="{noise.token(24)}">document.documentElement.className += ' js-enabled';</script>
    <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
    <meta name="theme-color" content="#0b0c0c">
    <link rel="icon" sizes="48x48" href="/assets/static/favicon-{noise.hex(8)}.ico">
    <link rel="apple-touch-icon" href="/assets/static/govuk-icon-180-{noise.hex(8)}.png">
    <link rel="stylesheet" href="/assets/frontend/application-{asset}.css" media="all">
    <link rel="stylesheet" href="/assets/static/application-{noise.hex(8)}.css" media="all">
    <link rel="preload" href="/assets/static/govuk_publishing_components/vendor/lux/lux-reporter-{noise.hex(8)}.js" as="script">
    <meta name="govuk:content-id" content="{noise.hex(8)}-{noise.hex(4)}-{noise.hex(4)}-{noise.hex(4)}-{noise.hex(12)}">
    <meta name="govuk:format" content="publication">
    <meta name="govuk:rendering-application" content="frontend">
    <meta name="csrf-param" content="authenticity_token">
    <meta name="csrf-token" content="{noise.token()}">
    <meta property="og:title" content="{escape(title)}">
    <meta property="og:url" content="https://www.gov.uk{escape(content.base_path)}">
    <script type="application/ld+json" nonce="{noise.token(24)}">{pad}</script>
  </head>"""


def _cookie_banner(noise: _Noise) -> str:
    return f"""<div id="global-cookie-message" class="gem-c-cookie-banner govuk-clearfix"
      data-module="cookie-banner" data-nosnippet role="region" aria-label="Cookies on GOV.UK">
    <div class="govuk-cookie-banner js-banner-wrapper" role="region" aria-label="Cookies on GOV.UK">
      <div class="gem-c-cookie-banner__message govuk-cookie-banner__message govuk-width-container">
        <div class="govuk-grid-row"><div class="govuk-grid-column-two-thirds">
          <h2 class="govuk-cookie-banner__heading govuk-heading-m">Cookies on GOV.UK</h2>
          <div class="govuk-cookie-banner__content">
            <p class="govuk-body">{COOKIE_BANNER_TEXT}</p>
            <p class="govuk-body">We’d like to set additional cookies to understand how you use GOV.UK, remember your settings and improve government services.</p>
            <p class="govuk-body">We also use cookies set by other sites to help us deliver content from their services.</p>
          </div>
        </div></div>
        <div class="govuk-button-group">
          <button class="govuk-button" type="submit" data-accept-cookies="true" data-ga4-cookie-banner="{noise.ga4(event_name='cookie')}">Accept additional cookies</button>
          <button class="govuk-button" type="submit" data-reject-cookies="true">Reject additional cookies</button>
          <a class="govuk-link" href="/help/cookies">View cookies</a>
        </div>
      </div>
      <div class="gem-c-cookie-banner__confirmation govuk-width-container" tabindex="-1" hidden>
        <p class="gem-c-cookie-banner__confirmation-message" role="alert">You can <a class="govuk-link" href="/help/cookies">change your cookie settings</a> at any time.</p>
        <button class="gem-c-cookie-banner__hide-button govuk-button" data-hide-cookie-banner="true">Hide this message</button>
      </div>
    </div>
  </div>"""


def _menu(title: str, entries: list[tuple[str, str]], noise: _Noise, ident: str) -> str:
    links = "\n".join(
        f'<li class="gem-c-layout-super-navigation-header__dropdown-list-item">'
        f'<a class="govuk-link gem-c-layout-super-navigation-header__navigation-second-item-link" '
        f'href="{escape(href)}" data-ga4-link="{noise.ga4(event_name="navigation", text=name, index_link=i)}">'
        f"{escape(name)}</a></li>"
        for i, (name, href) in enumerate(entries, 1)
    )
    return f"""<li class="gem-c-layout-super-navigation-header__navigation-item">
          <a class="gem-c-layout-super-navigation-header__navigation-item-link" href="/browse">{escape(title)}</a>
          <button aria-controls="super-navigation-menu-{ident}" aria-expanded="false"
            class="gem-c-layout-super-navigation-header__navigation-top-toggle-button"
            id="super-navigation-menu-{ident}-toggle" type="button" hidden>
            <span class="gem-c-layout-super-navigation-header__navigation-top-toggle-button-inner">{escape(title)}</span>
          </button>
          <div id="super-navigation-menu-{ident}" hidden class="gem-c-layout-super-navigation-header__navigation-dropdown-menu">
            <div class="govuk-width-container"><ul class="govuk-list gem-c-layout-super-navigation-header__navigation-second-items">
            {links}
            </ul></div>
          </div>
        </li>"""


def _header(noise: _Noise, nav_variant: int, extra: list[tuple[str, str]]) -> str:
    topics = (_TOPICS_ALT if nav_variant % 2 else _TOPICS) + extra
    activity = _ACTIVITY_ALT if nav_variant % 3 == 2 else _ACTIVITY
    if nav_variant >= 3:
        topics = topics[nav_variant % len(topics) :] + topics[: nav_variant % len(topics)]
    logo_ga4 = noise.ga4(event_name="navigation", type="header menu bar", text="GOV.UK")
    return f"""<header role="banner" data-module="gem-layout-super-navigation-header"
      class="gem-c-layout-super-navigation-header" data-ga4-expandable="">
    <div class="gem-c-layout-super-navigation-header__container govuk-clearfix">
      <div class="govuk-width-container">
        <div class="gem-c-layout-super-navigation-header__header-logo">
          <a class="govuk-header__link govuk-header__link--homepage" href="https://www.gov.uk/" id="logo"
            aria-label="Go to the GOV.UK homepage" data-ga4-link="{logo_ga4}">
            <svg xmlns="http://www.w3.org/2000/svg" focusable="false" role="img" viewBox="0 0 324 60"
              height="30" width="162" fill="currentcolor" class="govuk-header__logotype" aria-label="GOV.UK">
              <title>GOV.UK</title><path d="M22.6 10.4c-1 .4-2-.1-2.4-1-.4-.9.1-2 1-2.4.9-.4 2 .1 2.4 1s-.1 2-1 2.4m-5.9 6.7c-.9.4-2-.1-2.4-1-.4-.9.1-2 1-2.4.9-.4 2 .1 2.4 1s-.1 2-1 2.4"></path>
            </svg>
          </a>
        </div>
        <nav aria-labelledby="super-navigation-menu-heading" class="gem-c-layout-super-navigation-header__content"
          data-module="super-navigation-mega-menu">
          <h2 id="super-navigation-menu-heading" class="govuk-visually-hidden">Navigation menu</h2>
          <ul class="gem-c-layout-super-navigation-header__navigation-items">
          {_menu("Topics", topics, noise, noise.hex(6))}
          {_menu("Government activity", activity, noise, noise.hex(6))}
          </ul>
          <form class="gem-c-layout-super-navigation-header__search-form" id="search" action="/search" method="get" role="search">
            <label class="govuk-label" for="search-main-{noise.hex(8)}">Search GOV.UK</label>
            <input type="search" name="keywords" id="search-main-{noise.hex(8)}" class="govuk-input" title="Search">
            <button class="gem-c-search__submit" type="submit" enterkeyhint="search">Search</button>
          </form>
        </nav>
      </div>
    </div>
  </header>"""


def _banners(noise: _Noise) -> str:
    return f"""<div class="gem-c-emergency-banner gem-c-emergency-banner--notable-death govuk-!-display-none-print"
      data-module="ga4-link-tracker" data-ga4-emergency-banner="{noise.ga4(event_name='emergency')}">
    <div class="govuk-width-container">
      <h2 class="gem-c-emergency-banner__heading">{EMERGENCY_BANNER_TEXT}</h2>
      <p class="gem-c-emergency-banner__description">Find out more about the arrangements.</p>
      <a href="/government/news/arrangements" class="govuk-link gem-c-emergency-banner__link">More information</a>
    </div>
  </div>
  <div id="global-bar" class="gem-c-global-banner govuk-!-display-none-print" data-module="global-bar" data-ga4-global-bar="">
    <p class="gem-c-global-banner__message govuk-width-container">
      <span class="gem-c-global-banner__title">{GLOBAL_BANNER_TEXT}</span>
      <a href="/register-to-vote" class="govuk-link js-call-to-action">Register online</a>
    </p>
  </div>"""


def _breadcrumbs(noise: _Noise) -> str:
    crumbs = [
        ("Home", "/"),
        ("Education, training and skills", "/education"),
        (BREADCRUMB_TEXT, "/education/special-educational-needs-and-disability-send-and-high-needs"),
    ]
    items = "".join(
        f'<li class="govuk-breadcrumbs__list-item">'
        f'{_link(name, href, "govuk-breadcrumbs__link", f" data-ga4-link={chr(34)}{noise.ga4(index_link=i)}{chr(34)}")}</li>'
        for i, (name, href) in enumerate(crumbs, 1)
    )
    return f"""<div class="gem-c-contextual-breadcrumbs">
      <div class="govuk-breadcrumbs gem-c-breadcrumbs govuk-breadcrumbs--collapse-on-mobile" data-module="ga4-link-tracker">
        <ol class="govuk-breadcrumbs__list">{items}</ol>
      </div>
    </div>"""


def _withdrawn(content: PageContent, noise: _Noise) -> str:
    if content.withdrawn is None:
        return ""
    when, why = content.withdrawn
    ident = noise.hex(8)
    return f"""<div class="govuk-notification-banner gem-c-notice" role="region"
          aria-labelledby="govuk-notification-banner-title-{ident}" data-module="govuk-notification-banner">
          <div class="govuk-notification-banner__header">
            <h2 class="govuk-notification-banner__title" id="govuk-notification-banner-title-{ident}">Important</h2>
          </div>
          <div class="govuk-notification-banner__content">
            <p class="govuk-notification-banner__heading">This {escape(content.document_type.lower())} was withdrawn on <time datetime="{when}">{_human_date(when)}</time></p>
            <div class="gem-c-govspeak govuk-govspeak"><p>{_inline(why)}</p></div>
          </div>
        </div>"""


def _metadata(content: PageContent) -> str:
    orgs = " and ".join(_link(name, href) for name, href in content.organisations)
    history = content.change_history
    published = _human_date(history[-1][0]) if history else "1 January 2020"
    updated = ""
    if len(history) > 1:
        updated = f"""<dt class="gem-c-metadata__term">Last updated</dt>
            <dd class="gem-c-metadata__definition">{_human_date(history[0][0])}
              <a href="#full-publication-update-history" class="govuk-link js-see-all-updates-link">— <span class="govuk-!-display-none-print">See all updates</span></a>
            </dd>"""
    return f"""<div class="gem-c-metadata" data-module="gem-toggle metadata">
          <dl class="gem-c-metadata__list">
            <dt class="gem-c-metadata__term">From:</dt>
            <dd class="gem-c-metadata__definition">{orgs}</dd>
            <dt class="gem-c-metadata__term">Published</dt>
            <dd class="gem-c-metadata__definition">{published}</dd>
            {updated}
          </dl>
        </div>"""


def _attachments(content: PageContent, noise: _Noise) -> str:
    if not content.attachments:
        return ""
    blocks = []
    for title, url, meta in content.attachments:
        meta_html = ""
        if meta:
            parts = "".join(
                f'<span class="gem-c-attachment__attribute">{escape(p.strip())}</span>'
                + (", " if n < len(meta.split(",")) - 1 else "")
                for n, p in enumerate(meta.split(","))
            )
            meta_html = f'<p class="gem-c-attachment__metadata">{parts}</p>'
        blocks.append(
            f"""<section class="gem-c-attachment govuk-!-display-none-print" data-ga4-attachment="{noise.ga4()}">
            <div class="gem-c-attachment__thumbnail">
              <a class="govuk-link" target="_self" tabindex="-1" aria-hidden="true" href="{escape(url)}">
                <svg class="gem-c-attachment__thumbnail-image" version="1.1" viewBox="0 0 99 140" width="99" height="140" aria-hidden="true"><path d="M12 12h75v27H12zm0 47h18.75v63H12zm55 2v59H51V61h16m2-2H49v63h20V59z"/></svg>
              </a>
            </div>
            <div class="gem-c-attachment__details">
              <h3 class="gem-c-attachment__title">
                <a class="govuk-link gem-c-attachment__link" target="_self" href="{escape(url)}">{escape(title)}</a>
              </h3>
              {meta_html}
              <p class="gem-c-attachment__metadata">This file may not be suitable for users of assistive technology.</p>
              <details class="gem-c-details govuk-details govuk-!-margin-bottom-0" data-module="govuk-details gem-details">
                <summary class="govuk-details__summary"><span class="govuk-details__summary-text">Request an accessible format.</span></summary>
                <div class="govuk-details__text">If you use assistive technology (such as a screen reader) and need a version of this document in a more accessible format, please email <a href="mailto:alternative.formats@education.gov.uk" class="govuk-link">alternative.formats@education.gov.uk</a>. Please tell us what format you need. It will help us if you say what assistive technology you use.</div>
              </details>
            </div>
          </section>"""
        )
    return (
        '<section id="documents" class="govuk-!-margin-bottom-8">'
        '<h2 class="govuk-heading-l">Documents</h2>' + "\n".join(blocks) + "</section>"
    )


def _published_dates(content: PageContent, noise: _Noise) -> str:
    history = content.change_history
    if not history:
        return ""
    entries = "\n".join(
        f"""<li class="gem-c-published-dates__change-item">
              <time class="gem-c-published-dates__change-date timestamp" datetime="{when}">{_human_date(when)}</time>
              <p class="gem-c-published-dates__change-note">{escape(note)}</p>
            </li>"""
        for when, note in history
    )
    return f"""<div class="gem-c-published-dates" data-module="gem-toggle" lang="en">
          Published {_human_date(history[-1][0])}
          <br>Last updated {_human_date(history[0][0])}
          <a href="#full-publication-update-history" class="gem-c-published-dates__toggle govuk-link"
            data-controls="full-publication-update-history" data-expanded="false"
            data-toggled-text="&#45;&nbsp;hide&nbsp;all&nbsp;updates" data-ga4-event="{noise.ga4()}">+&nbsp;show all updates</a>
          <div class="gem-c-published-dates__change-history js-hidden" id="full-publication-update-history">
            <h2 class="gem-c-published-dates__change-history-title govuk-visually-hidden">Updates to this page</h2>
            <ol class="gem-c-published-dates__list">
            {entries}
            </ol>
          </div>
        </div>"""


def _print_and_share(content: PageContent, noise: _Noise) -> str:
    page = f"https://www.gov.uk{content.base_path}"
    shares = "".join(
        f'<li class="gem-c-share-links__list-item"><a class="govuk-link gem-c-share-links__link" '
        f'target="_blank" rel="noopener noreferrer external" href="{escape(href)}" '
        f'data-ga4-link="{noise.ga4(text=name)}"><span class="gem-c-share-links__link-icon">'
        f'<svg aria-hidden="true" viewBox="0 0 32 32"><path d="M0 0h32v32H0z"/></svg></span>'
        f'<span class="govuk-visually-hidden">Share on </span>{name}'
        f'<span class="govuk-visually-hidden"> (opens in new tab)</span></a></li>'
        for name, href in [
            ("Facebook", f"https://www.facebook.com/sharer/sharer.php?u={page}"),
            ("Twitter", f"https://twitter.com/share?url={page}"),
        ]
    )
    return f"""<div class="gem-c-print-link govuk-!-display-none-print govuk-!-margin-top-3 govuk-!-margin-bottom-6">
          <button class="govuk-link govuk-body-s gem-c-print-link__button" onclick="window.print()" data-module="print-link">Print this page</button>
        </div>
        <div class="gem-c-share-links govuk-!-display-none-print" data-module="ga4-link-tracker">
          <h2 class="gem-c-share-links__title govuk-heading-s">Share this page</h2>
          <ul class="gem-c-share-links__list">{shares}</ul>
        </div>"""


def _sidebar(content: PageContent, noise: _Noise) -> str:
    ident = noise.hex(8)
    return f"""<div class="govuk-grid-column-one-third">
        <div class="gem-c-contextual-sidebar">
          <div class="gem-c-related-navigation" data-module="ga4-link-tracker">
            <h2 id="related-nav-related_items-{ident}" class="gem-c-related-navigation__main-heading">{RELATED_TEXT}</h2>
            <nav class="gem-c-related-navigation__nav-section" aria-labelledby="related-nav-related_items-{ident}">
              <ul class="gem-c-related-navigation__link-list">
                <li class="gem-c-related-navigation__link"><a class="govuk-link" href="/children-with-special-educational-needs">Children with special educational needs and disabilities (SEND)</a></li>
                <li class="gem-c-related-navigation__link"><a class="govuk-link" href="/government/publications/send-guide-for-parents-and-carers">SEND: guide for parents and carers</a></li>
              </ul>
            </nav>
          </div>
          <div class="gem-c-single-page-notification-button govuk-!-display-none-print" data-module="ga4-link-tracker">
            <form action="/email/subscriptions/single-page/new" method="POST">
              <input type="hidden" name="base_path" value="{escape(content.base_path)}">
              <input type="hidden" name="authenticity_token" value="{noise.token()}">
              <button class="govuk-body-s gem-c-single-page-notification-button__submit" type="submit"
                data-ga4-link="{noise.ga4(text='Get emails about this page')}">
                <svg class="gem-c-single-page-notification-button__icon" aria-hidden="true" viewBox="0 0 459.334 459.334"><path d="M177.216 404.514c-.001.12-.009.239-.009.359"/></svg>
                <span class="gem-c-single-page-notification-button__text">{EMAILS_TEXT}</span>
              </button>
            </form>
          </div>
        </div>
      </div>"""


def _contextual_footer() -> str:
    return """<div class="gem-c-contextual-footer govuk-!-display-none-print">
        <div class="gem-c-related-navigation">
          <h2 class="gem-c-related-navigation__main-heading">Explore the topic</h2>
          <nav class="gem-c-related-navigation__nav-section">
            <ul class="gem-c-related-navigation__link-list">
              <li class="gem-c-related-navigation__link"><a class="govuk-link" href="/education/special-educational-needs-and-disability-send-and-high-needs">Special educational needs and disability (SEND) and high needs</a></li>
            </ul>
          </nav>
        </div>
      </div>"""


def _feedback(content: PageContent, noise: _Noise) -> str:
    return f"""<div class="gem-c-feedback govuk-!-display-none-print" data-module="feedback ga4-event-tracker">
      <div class="gem-c-feedback__prompt gem-c-feedback__js-show js-prompt" tabindex="-1">
        <div class="gem-c-feedback__prompt-content">
          <div class="gem-c-feedback__prompt-questions js-prompt-questions">
            <div class="gem-c-feedback__prompt-question-answer">
              <h2 class="gem-c-feedback__prompt-question">{FEEDBACK_TEXT}</h2>
              <ul class="gem-c-feedback__option-list">
                <li class="gem-c-feedback__option-list-item"><button class="govuk-button gem-c-feedback__prompt-link js-page-is-useful" data-ga4-event="{noise.ga4(text='Yes')}">Yes <span class="govuk-visually-hidden">this page is useful</span></button></li>
                <li class="gem-c-feedback__option-list-item"><button class="govuk-button gem-c-feedback__prompt-link js-page-is-not-useful" aria-controls="page-is-not-useful">No <span class="govuk-visually-hidden">this page is not useful</span></button></li>
              </ul>
            </div>
          </div>
          <div class="gem-c-feedback__prompt-questions gem-c-feedback__prompt-success js-prompt-success" role="alert" hidden>Thank you for your feedback</div>
          <div class="gem-c-feedback__prompt-questions gem-c-feedback__prompt-questions--something-is-wrong js-prompt-questions">
            <button class="govuk-button gem-c-feedback__prompt-link js-something-is-wrong" aria-controls="something-is-wrong">Report a problem with this page</button>
          </div>
        </div>
      </div>
      <form action="/contact/govuk/problem_reports" id="something-is-wrong" class="gem-c-feedback__form js-feedback-form" method="post" hidden>
        <input type="hidden" name="authenticity_token" value="{noise.token()}">
        <input type="hidden" name="url" value="https://www.gov.uk{escape(content.base_path)}">
        <div class="govuk-grid-row"><div class="govuk-grid-column-two-thirds" id="survey-wrapper">
          <h3 class="gem-c-feedback__form-heading">Help us improve GOV.UK</h3>
          <p id="feedback_explanation_{noise.hex(6)}" class="gem-c-feedback__form-paragraph">Don’t include personal or financial information like your National Insurance number or credit card details.</p>
          <div class="govuk-visually-hidden" aria-hidden="true"><label for="giraffe">This field is for robots only. Please leave blank</label><input id="giraffe" name="giraffe" type="text" tabindex="-1" autocomplete="off"></div>
          <div class="govuk-form-group"><label for="input-{noise.hex(8)}" class="gem-c-label govuk-label">What were you doing?</label><input class="gem-c-input govuk-input" name="what_doing" type="text"></div>
          <div class="govuk-form-group"><label class="gem-c-label govuk-label">What went wrong?</label><input class="gem-c-input govuk-input" name="what_wrong" type="text"></div>
          <button class="gem-c-button govuk-button" type="submit">Send</button>
          <button class="govuk-button govuk-button--secondary gem-c-feedback__close js-close-form" aria-controls="something-is-wrong">Cancel</button>
        </div></div>
      </form>
    </div>"""


def _footer(noise: _Noise, nav_variant: int, extra: list[tuple[str, str]]) -> str:
    services = (_TOPICS if nav_variant % 2 == 0 else _TOPICS_ALT) + extra
    service_links = "".join(
        f'<li>{_link(name, href, "govuk-footer__link", f" data-ga4-link={chr(34)}{noise.ga4(text=name)}{chr(34)}")}</li>'
        for name, href in services
    )
    activity_links = "".join(
        f'<li>{_link(name, href, "govuk-footer__link")}</li>' for name, href in _ACTIVITY
    )
    support = "".join(
        f'<li class="govuk-footer__inline-list-item">{_link(name, href, "govuk-footer__link")}</li>'
        for name, href in _SUPPORT
    )
    return f"""<footer class="gem-c-layout-footer govuk-footer" role="contentinfo" data-module="ga4-link-tracker">
    <div class="govuk-width-container">
      <div class="govuk-footer__navigation">
        <div class="govuk-grid-column-two-thirds govuk-!-display-none-print">
          <h2 class="govuk-footer__heading govuk-heading-m">Services and information</h2>
          <ul class="govuk-footer__list govuk-footer__list--columns-2">{service_links}</ul>
        </div>
        <div class="govuk-grid-column-one-third govuk-!-display-none-print">
          <h2 class="govuk-footer__heading govuk-heading-m">Government activity</h2>
          <ul class="govuk-footer__list govuk-footer__list--columns-1">{activity_links}</ul>
        </div>
      </div>
      <hr class="govuk-footer__section-break govuk-!-display-none-print">
      <div class="govuk-footer__meta">
        <div class="govuk-footer__meta-item govuk-footer__meta-item--grow">
          <h2 class="govuk-visually-hidden">Support links</h2>
          <ul class="govuk-footer__inline-list">{support}</ul>
          <svg aria-hidden="true" focusable="false" class="govuk-footer__licence-logo" viewBox="0 0 483.2 195.7" height="17" width="41"><path fill="currentColor" d="M421.5 142.8V.1l-50.7 32.3v161.1h112.4v-50.7zm-122.3-9.6A47.12 47.12 0 0 1 221 97.8c0-26 21.1-47.1 47.1-47.1 16.7 0 31.4 8.7 39.7 21.8l42.7-27.2A97.63 97.63 0 0 0 268.1 0c-36.5 0-68.3 20.1-85.1 49.7A98 98 0 0 0 97.8 0C43.9 0 0 43.9 0 97.8s43.9 97.8 97.8 97.8c36.5 0 68.3-20.1 85.1-49.7a97.76 97.76 0 0 0 149.6 25.4l19.4 22.2h3v-87.8h-80l24.3 27.5zM97.8 145c-26 0-47.1-21.1-47.1-47.1s21.1-47.1 47.1-47.1 47.2 21 47.2 47S123.8 145 97.8 145"/></svg>
          <span class="govuk-footer__licence-description">{FOOTER_TEXT} <a class="govuk-footer__link" href="https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/" rel="license">Open Government Licence v3.0</a>, except where otherwise stated</span>
        </div>
        <div class="govuk-footer__meta-item"><a class="govuk-footer__link govuk-footer__copyright-logo" href="https://www.nationalarchives.gov.uk/information-management/re-using-public-sector-information/uk-government-licensing-framework/crown-copyright/">© Crown copyright</a></div>
      </div>
    </div>
  </footer>"""


def _json_ld(content: PageContent, noise: _Noise, size: int) -> str:
    # GOV.UK inlines schema.org data; on big collections it runs to tens of kilobytes.
    data: dict = {
        "@context": "http://schema.org",
        "@type": "Article",
        "mainEntityOfPage": {"@type": "WebPage", "@id": f"https://www.gov.uk{content.base_path}"},
        "headline": content.title,
        "description": content.summary,
        "publisher": {"@type": "Organization", "name": "GOV.UK", "url": "https://www.gov.uk"},
        "hasPart": [],
    }
    length = len(json.dumps(data))
    n = 0
    while length < size:
        n += 1
        part = {
            "@type": "CreativeWork",
            "name": f"Related item {n}",
            "url": f"https://www.gov.uk/government/publications/item-{n}-{noise.hex(6)}",
            "identifier": noise.hex(32),
        }
        data["hasPart"].append(part)
        length += len(json.dumps(part)) + 2  # and the ", " before it
    # "</" would end the script element early.
    return json.dumps(data).replace("</", "<\\/")


def _scripts(noise: _Noise) -> str:
    return f"""<script src="/assets/static/govuk_publishing_components/vendor/lux/lux-reporter-{noise.hex(8)}.js" async></script>
  <script type="module" src="/assets/frontend/application-{noise.hex(8)}.js" nonce="{noise.token(24)}"></script>
  <script nonce="{noise.token(24)}">window.GOVUK = window.GOVUK || {{}}; window.GOVUK.pageId = "{noise.hex(16)}";</script>"""


def render_govuk_page(
    content: PageContent,
    *,
    noise_seed: int | None = None,
    nav_variant: int = 0,
    banner: bool = False,
    charset: str = "utf-8",
    pad_to: int | None = None,
) -> str:
    """A whole GOV.UK publication page around ``content``.

    ``noise_seed`` fixes the per-response noise (random when None); ``nav_variant`` and
    ``banner`` change site-wide chrome; ``pad_to`` grows the chrome (more menu and footer
    entries, a bigger JSON-LD script) until the page is about that many characters.
    """

    def build(extra_links: int, json_size: int) -> str:
        noise = _Noise(noise_seed)
        extra = [
            (f"More services {i}", f"/browse/more-services-{i}") for i in range(extra_links)
        ]
        return _page(content, noise, nav_variant, banner, charset, extra, json_size)

    html = build(0, 0)
    if pad_to and len(html) < pad_to:
        # Half the padding is markup (which costs parsing time, as real menus do) and half
        # inline data; the JSON-LD then settles the size to within a few hundred bytes.
        per_link = (len(build(10, 0)) - len(html)) / 10  # in the menu and the footer
        extra_links = int((pad_to - len(html)) / 2 / per_link)
        html = build(extra_links, 0)
        missing = pad_to - len(html)
        if missing > 0:
            empty_json = len(_json_ld(content, _Noise(0), 0))
            html = build(extra_links, empty_json + missing)
    return html


def _page(
    content: PageContent,
    noise: _Noise,
    nav_variant: int,
    banner: bool,
    charset: str,
    extra: list[tuple[str, str]],
    json_size: int,
) -> str:
    pad = _json_ld(content, noise, json_size)
    summary = (
        f'<p class="gem-c-lead-paragraph">{escape(content.summary)}</p>' if content.summary else ""
    )
    details = ""
    if content.body:
        details = f"""<section id="details">
          <h2 class="govuk-heading-l">Details</h2>
          <div class="gem-c-govspeak govuk-govspeak" data-module="govspeak">
            <div class="govspeak">
{_govspeak(content.body, noise)}
            </div>
          </div>
        </section>"""
    return f"""<!DOCTYPE html>
<html lang="en" class="govuk-template govuk-template--rebranded">
  {_head(content.title, noise, charset, content, pad)}
<body class="gem-c-layout-for-public govuk-template__body">
  <script nonce="{noise.token(24)}">document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');</script>
  {_cookie_banner(noise)}
  <a href="#content" class="gem-c-skip-link govuk-skip-link govuk-!-display-none-print" data-module="govuk-skip-link">Skip to main content</a>
  {_header(noise, nav_variant, extra)}
  {_banners(noise) if banner else ""}
  <div class="govuk-width-container">
    {_breadcrumbs(noise)}
    <main role="main" id="content" class="govuk-main-wrapper govuk-main-wrapper--auto-spacing" lang="en">
      <span id="Top"></span>
      <div class="govuk-grid-row gem-print-columns-none">
        <div class="govuk-grid-column-two-thirds">
          <div class="gem-c-heading govuk-!-margin-bottom-8">
            <span class="govuk-caption-xl gem-c-heading__context">{escape(content.document_type)}</span>
            <h1 class="gem-c-heading__text govuk-heading-l">{escape(content.title)}</h1>
          </div>
        </div>
        <div class="govuk-grid-column-two-thirds">
          {summary}
        </div>
      </div>
      <div class="govuk-grid-row gem-print-columns-none">
        <div class="govuk-grid-column-two-thirds">
        {_withdrawn(content, noise)}
        {_metadata(content)}
        </div>
      </div>
      <div class="govuk-grid-row gem-print-columns-none">
        <div class="govuk-grid-column-two-thirds">
        {_attachments(content, noise)}
        {details}
        {_published_dates(content, noise)}
        {_print_and_share(content, noise)}
        </div>
      {_sidebar(content, noise)}
      </div>
      {_contextual_footer()}
    </main>
  </div>
  <div class="govuk-width-container">
    {_feedback(content, noise)}
  </div>
  {_footer(noise, nav_variant, extra)}
  {_scripts(noise)}
</body>
</html>
"""


def render_parliament_page(
    title: str,
    paragraphs: list[str],
    publications: list[tuple[str, str]],
    *,
    noise_seed: int | None = None,
) -> str:
    """A committees.parliament.uk-shaped page: a committee's publications list.

    ``publications`` are (title, href) pairs rendered as publication cards.
    """
    noise = _Noise(noise_seed)
    cards = "\n".join(
        f"""<div class="card card-publication">
          <a href="{escape(href)}" class="card-inner" data-id="{noise.hex(8)}">
            <div class="content"><span class="primary-info">{escape(name)}</span>
            <span class="secondary-info">Report</span></div>
          </a>
        </div>"""
        for name, href in publications
    )
    body = "".join(f"<p>{_inline(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{escape(title)} - Committees - UK Parliament</title>
<link rel="stylesheet" href="/dist/css/main.{noise.hex(10)}.css">
<script nonce="{noise.token(20)}">var requestVerificationToken = "{noise.token()}";</script></head>
<body>
<div id="cookie-banner" class="cookie-banner"><p>We use necessary cookies to make our site work.</p>
  <button>Accept all</button><button>Reject all</button></div>
<header><div class="container"><a href="https://www.parliament.uk/">UK Parliament</a>
  <nav><ul><li><a href="/committees/">Committees</a></li><li><a href="/publications/">All publications</a></li></ul></nav>
</div></header>
<div class="breadcrumb"><a href="/">Committees</a> / <a href="/committee/203/education-committee/">Education Committee</a></div>
<main id="main-content">
  <div class="hero-banner"><h1>{escape(title)}</h1></div>
  <div class="container">{body}
  <div class="card-list">{cards}</div>
  <a href="/committee/203/education-committee/news/">Committee news</a>
  </div>
</main>
<footer><p>© UK Parliament 2025</p><a href="/accessibility/">Accessibility statement</a></footer>
<script src="/dist/js/main.{noise.hex(10)}.js"></script>
</body></html>"""
