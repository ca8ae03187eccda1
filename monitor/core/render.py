"""Emails as people read them: a plain-text part and an HTML part (pure).

Everything that came from a watched page is untrusted: in the HTML part it is escaped,
in headers it is flattened to one line, so a hostile page can inject neither markup nor
headers, and neither part keeps a control character (a mail reader in a terminal would
obey an escape sequence). Message-IDs are derived from the outbox row, so a retried email
keeps its identity, and every email about one commitment refers to the same thread root.
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from html import escape
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from config.settings import CommitmentSettings, Settings
from monitor.core.diff import Change
from monitor.core.document import without_controls
from monitor.core.ledger import IN_PROGRESS, OVERDUE, Mark, Restated, day, standing

MAX_LINES = 12  # lines of a diff shown in an email; the dashboard has the rest
MAX_SUBJECT = 180

_STYLE_ADD = "background:#e6ffed;color:#14532d;text-decoration:none"
_STYLE_DEL = "background:#ffeef0;color:#7f1d1d"


@dataclass
class Message:
    """What a notification says, before it is laid out as text and HTML."""

    subject: str
    heading: str
    thread: str  # the thread root's local part
    paragraphs: list[str] = field(default_factory=list)
    change: Change | None = None
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    items: list[tuple[str, str | None]] = field(default_factory=list)  # digest entries: (text, url)
    # Why the reader gets it, and how to change or stop it: after everything else.
    footer: list[str] = field(default_factory=list)
    footer_links: list[tuple[str, str]] = field(default_factory=list)
    unsubscribe: str | None = None  # the one-click unsubscribe address (List-Unsubscribe, RFC 8058)


def one_line(text: str, limit: int = MAX_SUBJECT) -> str:
    """Header-safe: no line breaks or control characters, bounded length."""
    # Controls go as they go from page text; line breaks and other unprintables become spaces.
    text = "".join(ch if ch.isprintable() else " " for ch in without_controls(text))
    text = " ".join(text.split())
    # Python's email headers decode an RFC 2047 encoded word as they are set, so a title
    # such as "=?utf-8?q?a=0D=0ABcc:_x?=" would become a line break and a header of its own.
    # A word joiner between "=" and "?" shows the same and is no encoded word.
    text = text.replace("=?", "=\u2060?")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def site_name(url: str | None) -> str:
    host = (urlsplit(url).hostname or "") if url else ""
    if host.endswith("gov.uk") and host in ("www.gov.uk", "gov.uk"):
        return "GOV.UK"
    if host.endswith("parliament.uk"):
        return "Parliament"
    return host or "the web"


def ago(then: date, today: date) -> str:
    days = (today - then).days
    if days < 60:
        return f"{days} days ago"
    years = days / 365.25
    return f"{years:.1f} years ago" if years >= 1 else f"{days // 30} months ago"


def _commitment(settings: Settings, commitment_id: str | None) -> CommitmentSettings | None:
    try:
        return settings.commitment(commitment_id) if commitment_id else None
    except KeyError:
        return None


def compose(notification, context: dict, settings: Settings, now: datetime, change: Change | None = None,
            digest: list | None = None) -> Message:
    """The Message for one outbox row. ``context`` is ``store.outbox.context(notification)``
    with, under ``subscription``, why the reader gets it and their links (``why``,
    ``manage``, ``unsubscribe``, ``confirm``: plain text and URLs the caller made);
    ``change`` the decoded change of a development; ``digest`` the (row, context, change)
    of each item of a digest."""
    message = _body(notification, context, settings, now, change, digest)
    subscription = context.get("subscription") or {}
    if subscription.get("why"):
        message.footer.append(subscription["why"])
    if subscription.get("manage"):
        message.footer_links.append(("Change your subscription", subscription["manage"]))
    if subscription.get("unsubscribe"):
        message.footer_links.append(("Unsubscribe", subscription["unsubscribe"]))
        message.unsubscribe = subscription["unsubscribe"]
    return message


def _body(notification, context: dict, settings: Settings, now: datetime, change: Change | None = None,
          digest: list | None = None) -> Message:
    kind = notification.kind
    today = now.astimezone(ZoneInfo(settings.email.timezone)).date()
    commitment = _commitment(settings, notification.commitment_id)
    dashboard = settings.dashboard_url.rstrip("/")
    source = context.get("source")

    if kind == "development":
        development = context["development"]
        where = site_name(development.url or (source.url if source else None))
        title = commitment.title if commitment else notification.commitment_id
        message = Message(subject=f"{title}: {development.title} on {where}", heading=f"{title}: {development.title}",
                          thread=f"commitment-{notification.commitment_id}", change=change)
        message.paragraphs.append(f"sendwatch found this on {where} on {_when(development.detected_at, settings)}.")
        for said in context.get("said") or []:
            message.paragraphs.append(_restatement(said))
        message.paragraphs += _about(commitment, now, today, IN_PROGRESS, context.get("mark"),
                                     context.get("restated") or ())
        evidence = development.evidence or []
        if evidence:
            reasons = "; ".join(f"{h['where']} {h['phrase']!r}" for h in evidence[:3])
            message.paragraphs.append(f"Why sendwatch links it to this commitment: {reasons}.")
        if development.url:
            message.links.append(("The document", development.url))
        if source is not None and source.url != development.url:
            message.links.append(("The watched source", source.url))
        message.links.append(("This change in the dashboard", f"{dashboard}/changes/{development.change_id}"))
        return message

    if kind in ("overdue", "reminder"):
        event = context["event"]
        title = commitment.title if commitment else notification.commitment_id
        days = (today - event.expected_by).days
        what = "is overdue" if kind == "overdue" else f"is still overdue, {days} days on"
        message = Message(subject=f"{title}: {what} (expected by {event.expected_by:%d %B %Y})",
                          heading=f"{title} {what}", thread=f"commitment-{notification.commitment_id}")
        # The promise's own words of its date describe its date, not a date restated since.
        note = commitment.expected_note if commitment and commitment.expected_by == event.expected_by else None
        message.paragraphs.append(f"It was expected by {event.expected_by:%d %B %Y}"
                                  + (f" ({note})" if note else "")
                                  + ", and sendwatch has seen no development since.")
        message.paragraphs += _about(commitment, now, today, OVERDUE, context.get("mark"),
                                     context.get("restated") or ())
        message.links.append(("The ledger", f"{dashboard}/commitments/{notification.commitment_id}"))
        return message

    if kind in ("source-broken", "source-recovered"):
        payload = notification.payload or {}
        url = source.url if source else ""
        if kind == "source-broken":
            message = Message(subject=f"sendwatch: source {notification.source_id} has failed "
                                      f"{payload.get('failures')} checks in a row",
                              heading=f"Source {notification.source_id} is failing",
                              thread=f"source-{notification.source_id}")
            message.paragraphs.append(f"The last {payload.get('failures')} checks of {url} failed. "
                                      f"Last error: {payload.get('error')}")
            message.paragraphs.append("Until it recovers, changes there go unseen. You will get one email "
                                      "when it works again, not one per failure.")
        else:
            message = Message(subject=f"sendwatch: source {notification.source_id} is working again",
                              heading=f"Source {notification.source_id} has recovered",
                              thread=f"source-{notification.source_id}")
            message.paragraphs.append(f"{url} answered normally again after {payload.get('failures')} failed "
                                      "checks in a row.")
        message.links.append(("The source in the dashboard", f"{dashboard}/sources/{notification.source_id}"))
        return message

    if kind == "delivery-failed":
        payload = notification.payload or {}
        message = Message(subject=f"sendwatch: an email to {payload.get('recipient')} could not be delivered",
                          heading="An email could not be delivered", thread="delivery")
        message.paragraphs.append(f"sendwatch gave up a {payload.get('kind')} email to {payload.get('recipient')}: "
                                  f"{payload.get('error')}")
        message.paragraphs.append("Check the address, or the mail server's settings if every email fails; "
                                  "sendwatch status counts what was given up.")
        message.links.append(("The dashboard", dashboard))
        return message

    if kind == "subscriber-suspended":
        payload = notification.payload or {}
        message = Message(subject=f"sendwatch: subscriber {payload.get('recipient')} suspended",
                          heading="A subscriber's address was suspended", thread="delivery")
        message.paragraphs.append(f"The mail server refused {payload.get('refusals')} emails in a row to "
                                  f"{payload.get('recipient')}, the last with: {payload.get('error')}. sendwatch "
                                  "sends it nothing more, and what was queued for it is cancelled.")
        message.paragraphs.append("When the address works again: sendwatch subscribers resume ADDRESS.")
        return message

    if kind == "digest":
        entries = digest or []
        message = Message(subject=f"sendwatch digest: {len(entries)} update{'s' if len(entries) != 1 else ''} "
                                  f"({today:%d %B %Y})",
                          heading="What happened to the SEND commitments you follow", thread="digest")
        for row, row_context, row_change in entries:
            inner = _body(row, row_context, settings, now, row_change)
            url = inner.links[0][1] if inner.links else None
            message.items.append((inner.subject, url))
        message.links.append(("The dashboard", dashboard))
        return message

    if kind == "confirm":
        subscription = context.get("subscription") or {}
        message = Message(subject="sendwatch: confirm your subscription to the SEND commitments",
                          heading="Confirm your subscription", thread="subscription")
        message.paragraphs.append(f"Someone, we hope you, asked on {dashboard} for email about "
                                  f"{_chosen(settings, (notification.payload or {}).get('commitments'))}. Nothing "
                                  "is sent to this address until you confirm, with the link below; it works "
                                  "for 48 hours.")
        message.paragraphs.append("If it was not you, ignore this email: nothing more will be sent.")
        if subscription.get("confirm"):
            message.links.append(("Confirm the subscription", subscription["confirm"]))
        return message

    if kind == "manage-link":
        message = Message(subject="sendwatch: your subscription to the SEND commitments",
                          heading="Your subscription", thread="subscription")
        message.paragraphs.append("Someone, we hope you, asked for a link to change this address's subscription "
                                  "or leave it: the links are below. If it was not you, ignore this email.")
        return message

    if kind == "test":
        message = Message(subject="sendwatch test email", heading="This is a test from sendwatch", thread="test")
        message.paragraphs.append("If you can read this, sendwatch can reach you.")
        return message

    raise ValueError(f"unknown notification kind {kind!r}")


def _chosen(settings: Settings, commitment_ids) -> str:
    """"all the SEND commitments sendwatch follows", or the chosen ones by title."""
    if not commitment_ids or "all" in commitment_ids:
        return "all the SEND commitments sendwatch follows"
    titles = [c.title if (c := _commitment(settings, cid)) else cid for cid in commitment_ids]
    return "the SEND commitments " + ", ".join(f"'{t}'" for t in titles)


def _about(commitment: CommitmentSettings | None, now: datetime, today: date, state: str,
           mark: Mark | None, restated: Sequence[Restated] = ()) -> list[str]:
    """The commitment in two sentences; ``state`` is what the email itself shows it to be,
    unless a person (``mark``) or the watchlist has called it delivered or dropped.
    ``restated``: its restatements, which move the date it is expected by."""
    if commitment is None:
        return []
    made = (f"Promised {commitment.made_on:%d %B %Y} ({ago(commitment.made_on, today)}) "
            f"in {commitment.made_in}.")
    expected = ""
    position = standing(commitment, [], mark, now, restated)
    if commitment.expected_by or position.restated:
        late = position.lateness  # None once delivered or dropped; counted from the latest restated date
        words = position.expectation.words() if position.restated else \
            f"expected by {commitment.expected_by:%d %B %Y}"
        expected = f" {words[:1].upper()}{words[1:]}" + (f" ({state}; {late})." if late else ".")
    return [f"The commitment: {' '.join(commitment.promise.split())}", made + expected]


def _restatement(said: Restated) -> str:
    """What a minister said of the commitment's date in the document told of."""
    by = f" ({said.by}, {day(said.said_on)})" if said.by else f" ({day(said.said_on)})"
    gives = f"gives {day(said.resolves_to)}" if said.resolves_to else "gives no date"
    return f"What was said of its date: '{said.sentence}'{by}: {gives}, by the rule {said.rule}."


def _when(moment: datetime, settings: Settings) -> str:
    return moment.astimezone(ZoneInfo(settings.email.timezone)).strftime("%d %B %Y at %H:%M")


# -- layout ------------------------------------------------------------------------------------


def _change_rows(change: Change) -> list[tuple[str, str, str | None]]:
    """What changed, once for both parts: (sign, text, link) with + added, ~ updated,
    - removed; at most MAX_LINES text lines each way, then a pointer to the dashboard."""
    rows: list[tuple[str, str, str | None]] = [("+", i.describe(), i.url) for i in change.added_items]
    rows += [("~", new.describe(), None) for _old, new in change.updated_items]
    rows += [("-", i.describe(), None) for i in change.removed_items]
    rows += [("+", line, None) for line in change.added_lines[:MAX_LINES]]
    rows += [("-", line, None) for line in change.removed_lines[:MAX_LINES]]
    hidden = max(0, len(change.added_lines) - MAX_LINES) + max(0, len(change.removed_lines) - MAX_LINES)
    if hidden:
        rows.append(("", f"... and {hidden} more lines in the dashboard", None))
    return rows


def _change_text(change: Change) -> list[str]:
    lines = []
    for sign, text, url in _change_rows(change):
        line = f"  {sign} {text}" if sign else f"  {text}"
        lines.append(f"{line} <{url}>" if url else line)
    return lines


def plain_part(message: Message) -> str:
    """The email's text/plain part."""
    lines = [message.heading, "=" * min(len(message.heading), 72), ""]
    for paragraph in message.paragraphs:
        lines += [paragraph, ""]
    if message.change is not None:
        lines += ["What changed:", *_change_text(message.change), ""]
    for text, url in message.items:
        lines.append(f"* {text}" + (f"\n  {url}" if url else ""))
    if message.items:
        lines.append("")
    for label, url in message.links:
        lines.append(f"{label}: {url}")
    if message.footer or message.footer_links:
        lines += ["", "-- "]
        lines += message.footer
        lines += [f"{label}: {url}" for label, url in message.footer_links]
    # Documents are clean, but records written before they were, and error messages, may not be.
    return without_controls("\n".join(lines)).rstrip() + "\n"


def _a(url: str, label: str) -> str:
    # Only web links become anchors; anything else (javascript:, data:, a URL no parser can
    # read, or one with space around it that a reader would trim into another) is shown as text.
    url = without_controls(url)
    try:
        linkable = url == url.strip() and urlsplit(url).scheme in ("http", "https", "mailto")
    except ValueError:  # e.g. "https://[::1"
        linkable = False
    if linkable:
        return f'<a href="{escape(url, quote=True)}">{escape(label)}</a>'
    return escape(label)


def _change_html(change: Change) -> str:
    rows = []
    for sign, text, url in _change_rows(change):
        content = f"{sign} {_a(url, text) if url else escape(text)}" if sign else escape(text)
        if sign == "+":
            content = f'<ins style="{_STYLE_ADD}">{content}</ins>'
        elif sign == "-":
            content = f'<del style="{_STYLE_DEL}">{content}</del>'
        rows.append(f"<li>{content}</li>")
    return '<ul style="list-style:none;padding-left:0;font-family:monospace">' + "".join(rows) + "</ul>"


def html_part(message: Message) -> str:
    """The email's text/html part: a whole HTML document, every piece of page text escaped."""
    parts = [f"<h1 style=\"font-size:1.3em\">{escape(message.heading)}</h1>"]
    parts += [f"<p>{escape(p)}</p>" for p in message.paragraphs]
    if message.change is not None:
        parts += ["<h2 style=\"font-size:1.1em\">What changed</h2>", _change_html(message.change)]
    if message.items:
        parts.append("<ul>" + "".join(f"<li>{_a(url, text) if url else escape(text)}</li>"
                                      for text, url in message.items) + "</ul>")
    if message.links:
        parts.append("<p>" + " · ".join(_a(url, label) for label, url in message.links) + "</p>")
    if message.footer or message.footer_links:
        footer = [escape(line) for line in message.footer]
        if message.footer_links:
            footer.append(" · ".join(_a(url, label) for label, url in message.footer_links))
        parts.append('<p style="font-size:0.85em;color:#505a5f;border-top:1px solid #b1b4b6;padding-top:0.5em">'
                     + "<br>".join(footer) + "</p>")
    return without_controls("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"></head>"
                            f"<body style=\"font-family:sans-serif;max-width:40em\">{''.join(parts)}</body></html>\n")


def build_email(message: Message, *, notification_id: int, recipient: str, settings: Settings,
                now: datetime) -> EmailMessage:
    sender = settings.email.sender
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "sendwatch.invalid"
    # Long lines are legal up to 998 characters; folding a long subject at 78 makes some
    # parsers (Python's among them) keep a leading space.
    msg = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    msg["Subject"] = one_line(message.subject)
    msg["From"] = sender
    msg["To"] = recipient
    if settings.email.reply_to:
        msg["Reply-To"] = settings.email.reply_to
    msg["Date"] = email.utils.format_datetime(now)
    digest = hashlib.sha256(f"{notification_id}:{recipient}".encode()).hexdigest()[:12]
    msg["Message-ID"] = f"<sendwatch.{notification_id}.{digest}@{domain}>"
    root = f"<{_safe_local(message.thread)}@{domain}>"
    msg["In-Reply-To"] = root
    msg["References"] = root
    msg["List-Id"] = f"SEND commitments from sendwatch <commitments.sendwatch.{domain}>"
    if message.unsubscribe and _web_link(message.unsubscribe):
        # RFC 8058: the mail program may POST "List-Unsubscribe=One-Click" to it, no page between.
        msg["List-Unsubscribe"] = f"<{one_line(message.unsubscribe, 998)}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(plain_part(message))
    msg.add_alternative(html_part(message), subtype="html")
    return msg


def _web_link(url: str) -> bool:
    try:
        return (url.isprintable() and urlsplit(url).scheme == "https"
                and not any(ch.isspace() or ch in "<>" for ch in url))
    except ValueError:
        return False


def _safe_local(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-._" else "-" for ch in text)[:120] or "thread"
