"""The ledger as data for reports: JSON (nested) and CSV (one row per development)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from monitor.core.instants import iso

CSV_FIELDS = ("commitment_id", "commitment_title", "state", "made_on", "expected_by", "expected_now", "restated",
              "days_overdue",
              "development_id", "development_date", "development_title", "development_url", "source_id",
              "change_id", "score")


def standing_dict(p) -> dict:
    c = p.commitment
    return {
        "id": c.id, "title": c.title, "state": p.state, "promise": c.promise, "made_in": c.made_in,
        "made_on": c.made_on.isoformat(), "expected_by": c.expected_by.isoformat() if c.expected_by else None,
        "days_since_promise": p.days_since_promise, "days_overdue": p.days_overdue,
        # Its latest restated date (else expected_by), how often it was restated, in words, and each.
        "expected_now": p.expected_by.isoformat() if p.expected_by else None,
        "restated": len(p.restated), "expectation": p.expectation.words(),
        "restatements": [restated_dict(r) for r in p.restated],
        "lateness": p.lateness, "note": p.note,
        "last_development": ({"date": p.last.on.isoformat(), "title": p.last.title, "url": p.last.url}
                             if p.last else None),
    }


def restated_dict(r) -> dict:
    return {"said_on": r.said_on.isoformat(), "by": r.by, "url": r.url, "sentence": r.sentence, "rule": r.rule,
            "resolves_to": r.resolves_to.isoformat() if r.resolves_to else None}


def development_dict(d) -> dict:
    return {"id": d.id, "detected_at": iso(d.detected_at), "title": d.title, "url": d.url,
            "source_id": d.source_id, "change_id": d.change_id, "score": d.score, "evidence": d.evidence}


def ledger_data(standings, developments) -> dict:
    by_commitment: dict[str, list] = {}
    for d in developments:
        by_commitment.setdefault(d.commitment_id, []).append(development_dict(d))
    return {
        "exported_at": iso(datetime.now(UTC)),
        "commitments": [{**standing_dict(p), "developments": by_commitment.get(p.commitment.id, [])}
                        for p in standings],
    }


def to_json(standings, developments) -> str:
    return json.dumps(ledger_data(standings, developments), indent=2, ensure_ascii=False) + "\n"


def to_csv(standings, developments) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for commitment in ledger_data(standings, developments)["commitments"]:
        base = {"commitment_id": commitment["id"], "commitment_title": commitment["title"],
                "state": commitment["state"], "made_on": commitment["made_on"],
                "expected_by": commitment["expected_by"] or "", "expected_now": commitment["expected_now"] or "",
                "restated": commitment["restated"],
                "days_overdue": "" if commitment["days_overdue"] is None else commitment["days_overdue"]}
        if not commitment["developments"]:
            writer.writerow(base)
        for d in commitment["developments"]:
            writer.writerow({**base, "development_id": d["id"], "development_date": d["detected_at"],
                             "development_title": d["title"], "development_url": d["url"] or "",
                             "source_id": d["source_id"], "change_id": d["change_id"], "score": d["score"]})
    return out.getvalue()
