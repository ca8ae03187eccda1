"""What a person decides about the ledger, from the command line or the dashboard alike:
confirm or reject possible developments, mark a commitment delivered, dropped or open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from config import SendwatchError
from config.settings import Settings
from monitor.core.drafts import CONFIRMED, DEVELOPMENT, POSSIBLE, REJECTED
from monitor.core.ledger import DELIVERED, DROPPED, MARKS
from monitor.core.notify import for_commitment
from storage import Store


class DecisionError(SendwatchError):
    """A decision that cannot be taken as asked; ``str()`` says why, in one line."""


@dataclass(frozen=True)
class Reviewed:
    development_id: int
    commitment_id: str
    title: str
    done: bool  # False: someone else reviewed it meanwhile, and their verdict stands
    queued: int  # emails queued (a confirmation)


def review(settings: Settings, store: Store, verdict: str, ids, now: datetime) -> list[Reviewed]:
    """Confirm (``CONFIRMED``: a possible development becomes one and is emailed) or reject
    (``REJECTED``: never raised again for its commitment) each development of ``ids``.
    Every id is checked before any is changed."""
    if verdict not in (CONFIRMED, REJECTED):
        raise DecisionError(f"unknown verdict {verdict!r}")
    allowed = (POSSIBLE,) if verdict == CONFIRMED else (POSSIBLE, DEVELOPMENT, CONFIRMED)
    chosen = []
    for development_id in dict.fromkeys(ids):
        d = store.ledger.development(development_id)
        if d is None:
            raise DecisionError(f"there is no development {development_id}")
        if d.status not in allowed:
            raise DecisionError(f"development {development_id} is rejected already" if d.status == REJECTED else
                                f"development {development_id} is {d.status}, not possible: only a possible "
                                "development can be confirmed")
        chosen.append(d)
    done = []
    for d in chosen:
        notify = for_commitment(settings, "development", d.commitment_id) if verdict == CONFIRMED else ()
        reviewed = store.ledger.review(d.id, verdict, now, notify)
        done.append(Reviewed(d.id, d.commitment_id, d.title, reviewed, len(notify) if reviewed else 0))
    return done


def mark(settings: Settings, store: Store, commitment_id: str, state: str, note: str, now: datetime) -> None:
    """A person's verdict on a commitment, as of ``now``; delivered and dropped need a note."""
    try:
        settings.commitment(commitment_id)
    except KeyError:
        raise DecisionError(f"unknown commitment: {commitment_id}") from None
    if state not in MARKS:
        raise DecisionError(f"a commitment is marked {', '.join(MARKS)}, not {state!r}")
    note = note.strip()
    if state in (DELIVERED, DROPPED) and not note:
        raise DecisionError(f"say why when marking a commitment {state}")
    store.ledger.mark(commitment_id, state, note, now)
