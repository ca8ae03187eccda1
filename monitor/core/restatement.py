"""Reading the dates in what a minister says: when a written answer or statement gives a date or
a period for something ("in the spring", "by the end of 2021", "in the first quarter of 2022",
"in due course"), which day in Europe/London that means.

One rule for every period: **it resolves to its end** ("spring 2022" is 31 May 2022), counted
from the day the words were said (a London date). Vague words ("in due course", "at the earliest
opportunity", "shortly") are restatements without a date. Every rule is named in ``RULES``; each
finding carries the rule that read it, so `explain()` can show the sentence and why.

What is not a restatement:

- **a past reference**: a date or period that ended before the day said ("in 2014 we made
  far-reaching changes", "on 2 March 2023 the department published");
- **a year as the scope of a figure**, not a time for something to happen: "allocations for
  2026/27", "£125 million in each of 2018-19 and 2019-20", "budgets for the financial year 2021/22";
- **a weak expression in a sentence that promises nothing**: a bare year, month, season, financial
  year or "this year", and the vague words, count only in a sentence that looks forward ("will",
  "to be", "plans to", "committed to", "expect"...): "pupil premium, worth over £2.9 billion this
  year" is not a promise. A deadline word ("by", "before", "until", "by the end of", "within",
  "early", "later this year", "next year", "the coming") is enough on its own;
- **a period counted from another event**: "within 20 weeks of the request" says nothing of when.

Pure: plain strings and dates in, plain data out; no clock of its own (the day said is given).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Rule:
    name: str
    example: str
    resolves: str


# The one table of rules, in the order the README lists them.
RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("vague", "in due course; at the earliest opportunity; shortly; soon; as soon as possible; "
         "in the coming weeks/months; in the near future", "no date (a restatement without a date)"),
    Rule("day", "on 25 January 2024; by 27 February 2026; Tuesday 19 October",
         "that day (without a year: the year said)"),
    Rule("month", "in March 2022; by March; the end of March 2018; from September",
         "the month's last day (without a year: the year said, or the next year if that month is over and the "
         "sentence looks forward)"),
    Rule("end-of-this-month", "by the end of this month", "the last day of the month said"),
    Rule("season", "in the spring; by summer 2023; autumn 2021; winter 2022",
         "the season's last day: spring 31 May, summer 31 Aug, autumn 30 Nov, winter (Dec-Feb) the last day of "
         "February of the next year; without a year, the first such season not yet over"),
    Rule("quarter", "in the first quarter of 2022; Q3 2023; the first three months of 2022",
         "the calendar quarter's last day (31 Mar, 30 Jun, 30 Sep, 31 Dec)"),
    Rule("half", "in the first half of 2023; the second half of next year", "30 Jun or 31 Dec"),
    Rule("early-year", "early 2023; early next year; early in the new year; the early part of next year; "
         "in the new year", "31 March of that year"),
    Rule("mid-year", "mid-2024; the middle of next year", "30 June of that year"),
    Rule("late-year", "late 2022; later in 2022", "31 December of that year"),
    Rule("this-year", "later this year; this year; by the end of the year; later in the year; before the end of "
         "this year", "31 December of the year said"),
    Rule("next-year", "next year; by the end of next year", "31 December of the year after the year said"),
    Rule("year", "in 2022; by 2025; by the end of 2025", "31 December of that year"),
    Rule("financial-year", "2022-23; 2022/23; by 2034/35; the financial year 2021 to 2022",
         "31 March of its second year (a UK financial year runs April to March)"),
    Rule("this-financial-year", "this financial year; by the end of the financial year",
         "31 March ending the financial year said in"),
    Rule("coming-financial-year", "the coming financial year; next financial year",
         "31 March ending the financial year after the one said in"),
    Rule("academic-year", "the 2024/25 academic year", "31 August of its second year"),
    Rule("range", "between 2025/26 and 2029/30; from 2025/26 through to 2034/35",
         "the end of the range's last period"),
    Rule("relative", "within the next 12 months; within two years; in the next six weeks",
         "the day said plus that many days, weeks, months or years"),
    Rule("summer-recess", "before the summer recess", "31 July of the year said (the Commons rises late July)"),
)}

MONTHS = {name: number for number, name in enumerate(calendar.month_name) if name}
MONTHS.update({name[:3]: number for name, number in list(MONTHS.items())})
MONTHS["Sept"] = 9
SEASON_END = {"spring": (5, 31), "summer": (8, 31), "autumn": (11, 30), "winter": (2, 0)}  # winter: Feb, next year
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "eleven": 11, "twelve": 12, "eighteen": 18, "a": 1, "a few": 3, "few": 3}
ORDINAL_QUARTER = {"first": 1, "second": 2, "third": 3, "fourth": 4, "final": 4, "last": 4, "1": 1, "2": 2, "3": 3,
                   "4": 4}

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr" \
         r"|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)"
_YEAR = r"(?:19|20)\d\d"
# 2022-23, 2022/23, 2022 – 2023, 2022 to 2023, 2029/2030
_FY = rf"{_YEAR}\s*(?:-|–|—|/|\s+to\s+)\s*(?:{_YEAR}|\d\d)\b"
_NUM = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|eighteen|a few|a|few)"
_DAYNAME = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"

# Words that make an expression a deadline on its own, wherever they stand before it.
_STRONG_BEFORE = re.compile(r"(?:\bby|\bbefore|\buntil|\bno later than|\bthe end of|\bend of|\bthrough to|\bup to)"
                            r"(?:\s+the)?\s*$", re.I)
# A year or financial year right after these is what a figure is for, not when something happens.
_SCOPE_BEFORE = re.compile(r"(?:\bfor|\beach of|\bper|\bin respect of)(?:\s+the)?(?:\s+(?:financial|academic))?"
                           r"(?:\s+years?)?\s*$", re.I)
_LOOKS_FORWARD = re.compile(
    r"\b(?:will|shall|to be|intends?|intending|plans? to|planning to|planned for|expects?|expected|expecting|aims? to"
    r"|aiming to|is due|are due|due to be|due in|due by|going to|committed to|commit to|hopes? to|anticipates?|would"
    r"|set out)\b", re.I)

# (rule, pattern, strong): a strong pattern is a deadline on its own; a weak one needs a sentence
# that looks forward. Order matters: the first pattern to claim a stretch of text keeps it.
_PATTERNS: list[tuple[str, str, bool]] = [
    ("vague", r"\bin due course\b|\bat the earliest (?:possible )?opportunity\b|\bas soon as (?:possible|practicable)\b"
              r"|\bin the (?:coming|next) (?:few )?(?:weeks|months)\b"
              r"|\bover the (?:coming|next) (?:few )?(?:weeks|months)\b"
              r"|\bin the near future\b|\bshortly\b|\bsoon\b|\bimminently\b|\bin the not too distant future\b", False),
    ("summer-recess", r"\bbefore the (?:House rises for the )?summer recess\b", True),
    ("relative", rf"\b(?:within|in|over) the next {_NUM} (?:days?|weeks?|months?|years?)\b"
                 rf"|\bwithin {_NUM} (?:days?|weeks?|months?|years?)\b(?! of\b)", True),
    ("range", rf"\b(?:between|from) (?:the )?(?:financial year )?(?:{_FY}|{_YEAR})\s+(?:and|to|through to|until)\s+"
              rf"(?:{_FY}|{_YEAR})", False),
    ("end-of-this-month", r"\b(?:by |before )?the end of (?:this|the) month\b", True),
    ("coming-financial-year", r"\b(?:the|in the) (?:coming|next) financial year\b|\bnext financial year\b", True),
    ("this-financial-year", r"\b(?:this|the current) financial year\b|\bthe end of the financial year\b", False),
    ("academic-year", rf"\b(?:the )?{_FY} academic year\b|\bacademic year {_FY}", False),
    ("financial-year", rf"\b(?:the )?(?:financial year )?{_FY}(?: financial year)?", False),
    ("quarter", rf"\b(?:the )?(?:first|second|third|fourth|final|last) quarter of (?:the )?(?:calendar )?"
                rf"(?:year )?(?:{_YEAR}|next year|this year)|\bQ[1-4] {_YEAR}\b"
                rf"|\bthe first (?:three|3) months of (?:{_YEAR}|next year|the year)", False),
    ("half", rf"\b(?:the )?(?:first|second) half of (?:the year|{_YEAR}|next year|this year)", False),
    ("early-year", rf"\bearly (?:in )?(?:{_YEAR}|next year)\b|\bearly in the new year\b|\bthe (?:early part|start|"
                   rf"beginning) of (?:next year|{_YEAR}|the new year)\b|\bin the new year\b", True),
    ("mid-year", rf"\bmid-?(?:{_YEAR})\b|\bthe middle of (?:next year|{_YEAR}|this year)\b", True),
    ("late-year", rf"\b(?:late|later in) {_YEAR}\b", True),
    ("season", rf"\b(?:the )?(?:spring|summer|autumn|winter)(?: of)?(?: {_YEAR})?\b(?! (?:term|recess|statement|"
               rf"budget|school|schools))", False),
    ("this-year", r"\blater (?:this|in the) year\b|\b(?:by |before )?the end of (?:this|the) year\b"
                  r"|\bthis year\b", False),
    ("next-year", r"\b(?:by |before )?(?:the end of )?next year\b", True),
    ("day", rf"\b(?:{_DAYNAME},? )?\d{{1,2}}(?:st|nd|rd|th)? {_MONTH}(?:,? {_YEAR})?\b"
            rf"|\b(?:{_DAYNAME},? )?{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?(?:,? {_YEAR})?\b", False),
    ("month", rf"\b{_MONTH}(?: (?:of )?{_YEAR}| this year| next year)?\b", False),
    ("year", rf"\b{_YEAR}\b", False),
]
_COMPILED = [(rule, re.compile(pattern, re.I if rule != "month" else 0), strong) for rule, pattern, strong in _PATTERNS]
# "May" and "March" as verbs or names are too common to take lowercase; months need a capital.


@dataclass(frozen=True)
class Restatement:
    """One date or period a sentence gives for something (or vague words that give none)."""

    sentence: str
    words: str  # the matched words, as written
    rule: str  # a key of RULES
    resolved: date | None  # None: a restatement without a date
    said: date

    def explain(self) -> str:
        rule = RULES[self.rule]
        if self.resolved is None:
            return f"{self.rule} {self.words!r}: a restatement without a date"
        return (f"{self.rule} {self.words!r} said on {self.said.isoformat()} resolves to "
                f"{self.resolved.isoformat()} ({rule.resolves})")


def london_day(moment: datetime) -> date:
    """The day in London an aware instant falls on (what a minister's 'this year' is counted from)."""
    if moment.tzinfo is None:
        raise ValueError("london_day needs an aware datetime")
    return moment.astimezone(LONDON).date()


_ABBREVIATIONS = re.compile(r"\b(?:hon|Hon|rt|Rt|Mr|Mrs|Ms|Dr|No|St|e\.g|i\.e|etc|para|col|Cm|HC|cf)\.$")


def sentences(text: str) -> list[str]:
    """A paragraph cut into sentences (a full stop after 'hon.' or 'Mr.' does not end one)."""
    out: list[str] = []
    start = 0
    for m in re.finditer(r"[.!?](?=\s+[\"“‘(]?[A-Z0-9])", text):
        if _ABBREVIATIONS.search(text[start:m.end()]):
            continue
        piece = text[start:m.end()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def read_dates(text: str, said: date) -> tuple[Restatement, ...]:
    """Every date or period ``text`` gives for something, said on ``said`` (a London day), in order."""
    found: list[Restatement] = []
    for sentence in sentences(text):
        found.extend(_read_sentence(sentence, said))
    return tuple(found)


def _read_sentence(sentence: str, said: date) -> list[Restatement]:
    claimed: list[tuple[int, int]] = []
    hits: list[tuple[int, Restatement]] = []
    for rule, pattern, strong in _COMPILED:
        for m in pattern.finditer(sentence):
            if any(m.start() < end and start < m.end() for start, end in claimed):
                continue
            claimed.append((m.start(), m.end()))
            words = m.group(0).strip()
            before = sentence[:m.start()]
            if rule in ("financial-year", "year", "academic-year") and _SCOPE_BEFORE.search(before):
                continue  # what a figure is for
            if rule in ("financial-year", "year") and _in_list_after_scope(before):
                continue
            if re.search(r"\b(?:since|as of|as at)\s+(?:the\s+)?$", before, re.I):
                continue  # counted from, or standing at, a moment: never a promise
            deadline = strong or bool(_STRONG_BEFORE.search(before)) or words.lower().startswith(
                ("by ", "before ", "later ", "the end", "early"))
            rest = sentence[:m.start()] + " " * len(m.group(0)) + sentence[m.end():]
            if not deadline and not _LOOKS_FORWARD.search(rest):
                continue  # a sentence that promises nothing
            try:
                resolved = _resolve(rule, m, said, looks_forward=bool(_LOOKS_FORWARD.search(rest)))
            except _NotADate:
                continue
            if resolved is not None and resolved < said:
                continue  # a past reference
            hits.append((m.start(), Restatement(sentence, words, rule, resolved, said)))
    return [r for _, r in sorted(hits, key=lambda h: h[0])]


def _in_list_after_scope(before: str) -> bool:
    """'in each of 2018-19 and 2019-20': the second of a list shares the first's scope."""
    m = re.search(rf"(?:\bfor|\beach of)(?:\s+the)?\s+(?:{_FY}|{_YEAR})(?:\s*(?:,|and|or)\s*(?:{_FY}|{_YEAR}))*"
                  r"\s*(?:,|and|or)\s*$", before, re.I)
    return m is not None


class _NotADate(Exception):
    pass


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _fy_end_year(text: str) -> int:
    m = re.search(rf"({_YEAR})\s*(?:-|–|—|/|\s+to\s+)\s*((?:19|20)?\d\d)\b", text)
    if not m:
        raise _NotADate
    first = int(m.group(1))
    second = m.group(2)
    end = int(second) if len(second) == 4 else (first // 100) * 100 + int(second)
    if end != first + 1:
        raise _NotADate  # "2013-2018" or a range of ages is not one financial year
    return end


def _year_in(text: str, said: date) -> int | None:
    m = re.search(_YEAR, text)
    if m:
        return int(m.group(0))
    low = text.lower()
    if "next year" in low or "new year" in low:
        return said.year + 1
    if "this year" in low or "the year" in low:
        return said.year
    return None


def _fy_containing(day: date) -> int:
    """The year in which the financial year containing ``day`` ends (on 31 March)."""
    return day.year + 1 if day.month >= 4 else day.year


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _resolve(rule: str, m: re.Match[str], said: date, looks_forward: bool) -> date | None:
    text = m.group(0)
    low = text.lower()
    if rule == "vague":
        return None
    if rule == "summer-recess":
        return date(said.year if said <= date(said.year, 7, 31) else said.year + 1, 7, 31)
    if rule == "relative":
        n_text = re.search(_NUM, low.split(" ", 1)[1] if low.startswith(("within the", "in the", "over the"))
                           else low.split(" ", 1)[1])
        assert n_text is not None
        n = int(n_text.group(0)) if n_text.group(0).isdigit() else NUMBERS[n_text.group(0)]
        unit = re.search(r"(day|week|month|year)", low)
        assert unit is not None
        if unit.group(1) == "day":
            return said + timedelta(days=n)
        if unit.group(1) == "week":
            return said + timedelta(weeks=n)
        return _add_months(said, n * (12 if unit.group(1) == "year" else 1))
    if rule == "range":
        last = re.split(r"\s+(?:and|to|through to|until)\s+", text)[-1]
        if re.search(_FY, last):
            return date(_fy_end_year(last), 3, 31)
        return date(int(last), 12, 31)
    if rule == "end-of-this-month":
        return _month_end(said.year, said.month)
    if rule == "coming-financial-year":
        return date(_fy_containing(said) + 1, 3, 31)
    if rule == "this-financial-year":
        return date(_fy_containing(said), 3, 31)
    if rule == "academic-year":
        return date(_fy_end_year(text), 8, 31)
    if rule == "financial-year":
        return date(_fy_end_year(text), 3, 31)
    if rule == "quarter":
        year = _year_in(low.split(" of ")[-1] if " of " in low else low, said) or said.year
        if low.startswith("q"):
            quarter = int(low[1])
        elif "months" in low:
            quarter = 1
        else:
            word = re.search(r"(first|second|third|fourth|final|last)", low)
            assert word is not None
            quarter = ORDINAL_QUARTER[word.group(1)]
        return _month_end(year, quarter * 3)
    if rule == "half":
        year = _year_in(low.split(" of ")[-1], said) or said.year
        return date(year, 6, 30) if "first" in low else date(year, 12, 31)
    if rule == "early-year":
        return date(_year_in(low, said) or said.year + 1, 3, 31)
    if rule == "mid-year":
        return date(_year_in(low, said) or said.year, 6, 30)
    if rule == "late-year":
        return date(_year_in(low, said) or said.year, 12, 31)
    if rule == "season":
        season = re.search(r"(spring|summer|autumn|winter)", low)
        assert season is not None
        month, day = SEASON_END[season.group(1)]
        season_year = _year_in(low, said)

        def end(y: int) -> date:
            return _month_end(y + 1, 2) if month == 2 else date(y, month, day)
        if season_year is not None:
            return end(season_year)
        # Without a year: the first such season not over on the day said (winter: the one
        # begun in December of the previous year counts while it lasts).
        for y in (said.year - 1, said.year, said.year + 1):
            if end(y) >= said:
                return end(y)
        raise _NotADate
    if rule == "this-year":
        return date(said.year, 12, 31)
    if rule == "next-year":
        return date(said.year + 1, 12, 31)
    if rule == "day":
        month_m = re.search(_MONTH, text)
        assert month_m is not None
        month = MONTHS[month_m.group(0)]
        day_m = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", text)
        assert day_m is not None
        year_m = re.search(_YEAR, text)
        year = int(year_m.group(0)) if year_m else said.year
        try:
            return date(year, month, int(day_m.group(1)))
        except ValueError:
            raise _NotADate from None
    if rule == "month":
        month_m = re.search(_MONTH, text)
        assert month_m is not None
        month = MONTHS[month_m.group(0)]
        year_m = re.search(_YEAR, text)
        if year_m:
            return _month_end(int(year_m.group(0)), month)
        if "next year" in low:
            return _month_end(said.year + 1, month)
        resolved = _month_end(said.year, month)
        if resolved < said and looks_forward and "this year" not in low:
            return _month_end(said.year + 1, month)
        return resolved
    if rule == "year":
        return date(int(text), 12, 31)
    raise AssertionError(f"no resolution for rule {rule!r}")
