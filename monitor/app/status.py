"""The service's status file, and ``sendwatch status``'s report from it and the database.

**The status file** ``<data_dir>/status.json`` is how ``sendwatch status`` (another
process, perhaps another user) learns about the service without a network call. The
service writes it atomically at start, after each check, outbox run and reload, every
``HEARTBEAT`` seconds by a scheduler job (so a stuck scheduler shows as a stale
heartbeat), and once more on stop. It holds the pid and host, ``started_at``,
``heartbeat_at``, ``state`` (running, stopping, stopped), the dashboard URL, the next run
of every source, and the last outbox, ledger and reload runs.

Reading it takes neither the scheduler nor the web server: ``sendwatch status`` loads
only this module, the settings and the store.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from config import Settings
from monitor.core.errors import describe
from monitor.core.instants import iso
from storage import Store

STATUS_FILE = "status.json"
HEARTBEAT = 20.0  # seconds between status-file writes when nothing else happens
STALE_AFTER = 3 * HEARTBEAT  # an older heartbeat means the service is not running


def parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def shown_url(database_url: str) -> str:
    """A database URL without its password, for messages."""
    return make_url(database_url).render_as_string(hide_password=True)


def status_path(settings: Settings) -> Path:
    return Path(settings.data_dir or ".") / STATUS_FILE


def write_status_file(path: Path, data: dict) -> None:
    """Replace the status file whole: a reader never sees half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def read_status_file(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and someone else's (the service user's)
        return True
    return True


def service_running(status: dict, now: datetime | None = None) -> bool:
    """A fresh heartbeat from a process in the running state that still exists."""
    now = now or datetime.now(UTC)
    heartbeat = parse_iso(status.get("heartbeat_at"))
    if status.get("state") not in ("running", "stopping") or heartbeat is None:
        return False
    if (now - heartbeat).total_seconds() > STALE_AFTER:
        return False
    if status.get("host") == socket.gethostname() and not _pid_alive(status.get("pid")):
        return False  # killed without a chance to say so
    return True


def status_report(settings: Settings, now: datetime | None = None) -> dict:
    """What ``sendwatch status`` shows, as data. ``healthy`` means the service is doing its
    job: running, with a reachable database and an outbox that is being drained. Failing
    sources are listed but do not make it unhealthy: a moved page needs a person, not a
    restart, and sendwatch emails about broken sources itself."""
    now = now or datetime.now(UTC)
    problems: list[str] = []
    path = status_path(settings)
    status = read_status_file(path)
    running = service_running(status, now) if status else False
    service: dict[str, Any] = {"running": running, "status_file": str(path)}
    if status:
        service.update({k: status.get(k) for k in ("pid", "host", "state", "started_at", "heartbeat_at",
                                                     "stopped_at", "dashboard", "config", "last_outbox_run",
                                                     "last_reload")})
    if not running:
        if status is None:
            problems.append(f"the service is not running (no status file at {path})")
        elif status.get("state") == "stopped":
            problems.append(f"the service is not running (stopped at {status.get('stopped_at')})")
        else:
            problems.append(f"the service is not running (last heartbeat {status.get('heartbeat_at')}; "
                            "it stopped without saying so)")

    report: dict[str, Any] = {"healthy": False, "problems": problems, "service": service,
                              "database": {"url": shown_url(settings.database), "reachable": False}}
    url = make_url(settings.database)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not Path(url.database).expanduser().exists():
        report["database"]["error"] = "no database yet (sendwatch init, check or serve creates it)"
    else:
        try:
            with Store(settings.database, migrate=False) as store:
                _record_part(report, store, settings, now)
            report["database"]["reachable"] = True
        except Exception as exc:  # any driver's error: the point is to say it, not to crash
            report["database"]["error"] = describe(exc)
    if not report["database"]["reachable"]:
        problems.append(f"the database cannot be read: {report['database'].get('error')}")
    crew = report.get("workers")
    if crew is not None:
        _judge_workers(report, crew, running)
    next_checks = (status or {}).get("next_checks") or {}
    report["next_checks"] = [{"source": s, "at": at} for s, at in next_checks.items()][:10] if running else []
    report["healthy"] = not problems
    return report


def _record_part(report: dict, store: Store, settings: Settings, now: datetime) -> None:
    sources = store.sources.all()
    failing = [s for s in sources if s.consecutive_failures]
    never_checked = sum(1 for s in sources if s.last_checked_at is None and not s.consecutive_failures)
    report["sources"] = {
        # ok: its last check worked. A source never checked is not known to be ok.
        "total": len(sources), "ok": len(sources) - len(failing) - never_checked, "failing": len(failing),
        "failing_sources": [{"id": s.id, "failures": s.consecutive_failures, "last_error": s.last_error,
                             "broken": s.consecutive_failures >= settings.email.broken_after} for s in failing],
        "never_checked": never_checked,
    }
    pending = store.outbox.notifications(status="pending") + store.outbox.notifications(status="sending")
    failed = store.outbox.notifications(status="failed")
    held = store.outbox.notifications(status="held")
    # Pending mail long past its time means nothing is draining the outbox.
    late_after = timedelta(seconds=max(600.0, 3 * settings.service.outbox_every))
    late = [n for n in pending if n.status == "pending" and now - n.next_attempt_at > late_after]
    report["outbox"] = {"pending": len(pending), "failed": len(failed), "held_for_digests": len(held),
                        "late": len(late)}
    if late and report["service"]["running"]:
        report["problems"].append(f"{len(late)} email(s) waiting in the outbox for more than "
                                  f"{late_after.total_seconds() / 60:.0f} minutes")
    from monitor.app.crew import crew_status

    if (crew := crew_status(store.engine, settings.cluster.lost_after, now)) is not None:
        report["workers"] = crew
    latest = store.history.changes(limit=1)
    report["last_change"] = ({"id": latest[0].id, "source": latest[0].source_id, "at": iso(latest[0].detected_at),
                              "summary": latest[0].summary} if latest else None)


LATE_CHECKS = 600.0  # seconds: checks starting later than this against their time is a problem


def _judge_workers(report: dict, crew: dict, serve_running: bool) -> None:
    """Worker processes (``sendwatch worker``) do the service's work without a ``serve``:
    live ones make it run; checks starting ten minutes late mean too few of them."""
    live = crew["live"]
    if live and not serve_running:
        report["problems"][:] = [p for p in report["problems"] if not p.startswith("the service is not running")]
    if not live and not serve_running and crew["queue"]["due"]:
        report["problems"].append(f"{crew['queue']['due']} job(s) due and no worker alive")
    if crew["lag_s"] > LATE_CHECKS:
        report["problems"].append(f"checks start {crew['lag_s']:.0f} s late: the workers cannot keep up")


def _when(value: str | None) -> str:
    moment = parse_iso(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def status_lines(report: dict) -> list[str]:
    """The report as ``sendwatch status`` prints it."""
    service = report["service"]
    lines = []
    if service["running"]:
        beat = parse_iso(service.get("heartbeat_at"))
        age = f", heartbeat {int((datetime.now(UTC) - beat).total_seconds())} s ago" if beat else ""
        lines.append(f"service: running (pid {service.get('pid')} on {service.get('host')}, "
                     f"since {_when(service.get('started_at'))}{age})")
        if service.get("dashboard"):
            lines.append(f"dashboard: {service['dashboard']}")
        outbox_run = service.get("last_outbox_run")
        if outbox_run:
            lines.append(f"last outbox run: {_when(outbox_run.get('at'))}"
                         + (f" (failed: {outbox_run.get('error')})" if not outbox_run.get("ok") else ""))
    elif service.get("state") == "stopped":
        lines.append(f"service: not running (stopped at {_when(service.get('stopped_at'))})")
    elif service.get("state"):
        lines.append(f"service: not running (last heartbeat {_when(service.get('heartbeat_at'))}, "
                     f"pid {service.get('pid')}: it stopped without saying so)")
    else:
        lines.append(f"service: not running (no status file at {service['status_file']})")
    database = report["database"]
    lines.append(f"database: {'reachable' if database['reachable'] else 'NOT reachable'} ({database['url']})"
                 + (f": {database['error']}" if database.get("error") else ""))
    sources = report.get("sources")
    if sources:
        lines.append(f"sources: {sources['total']} ({sources['ok']} ok, {sources['failing']} failing"
                     + (f", {sources['never_checked']} not checked yet" if sources["never_checked"] else "") + ")")
        for s in sources["failing_sources"]:
            state = "broken" if s["broken"] else "failing"
            lines.append(f"  {state}: {s['id']} ({s['failures']} failure(s) in a row): {s['last_error']}")
    outbox = report.get("outbox")
    if outbox:
        lines.append(f"outbox: {outbox['pending']} pending, {outbox['failed']} failed"
                     + (f", {outbox['held_for_digests']} held for digests" if outbox["held_for_digests"] else ""))
    crew = report.get("workers")
    if crew is not None:
        queue = crew["queue"]
        lines.append(f"workers: {crew['live']} alive of {len(crew['workers'])} registered; queue: "
                     f"{queue['due']} due, {queue['running']} running, {queue['scheduled']} scheduled, "
                     f"{queue['failed']} failed; lag {crew['lag_s']:g} s")
    if "last_change" in report:
        change = report["last_change"]
        lines.append(f"last change: {_when(change['at'])}  {change['source']}: {change['summary']}" if change
                     else "last change: none yet")
    if report["next_checks"]:
        lines.append("next checks:")
        lines += [f"  {_when(n['at'])}  {n['source']}" for n in report["next_checks"]]
    lines.append("healthy" if report["healthy"] else "unhealthy: " + "; ".join(report["problems"]))
    return lines
