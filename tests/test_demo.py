"""``sendwatch demo`` as a newcomer runs it: a real process, its own site, its own folder."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from storage import Store

ROOT = Path(__file__).resolve().parents[1]


def run(tmp_path: Path, *args: str, timeout: float = 90) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "monitor.app.cli", *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=timeout)
    return result, time.monotonic() - started


def subjects(maildir: Path) -> list[str]:
    files = sorted((maildir / "new").iterdir())
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["Subject"] for f in files]


def test_the_demo_shows_developments_email_and_a_broken_source_offline(tmp_path):
    folder = tmp_path / "demo"
    result, seconds = run(tmp_path, "demo", "--no-wait", "--dir", str(folder))
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert seconds < 30, f"the demo took {seconds:.1f} s"

    assert re.search(r"^  dashboard: http://127\.0\.0\.1:\d+/", out, re.M)
    maildir = folder / "mail"
    assert f"email: 5 written to the Maildir {maildir}" in out
    assert f"sendwatch --config {folder / 'sendwatch.toml'} changes" in out
    # The service's own line for each check, in the order the steps caused them.
    assert out.index("check source=send-code-of-practice status=first") < out.index("Step 2 of 4") \
        < out.index("check source=send-code-of-practice status=changed")

    got = subjects(maildir)
    assert len(got) == 5
    assert "The SEND Review: is overdue (expected by 31 December 2020)" in got
    assert any(s.startswith("A revised SEND Code of Practice: change note: 'Added the revised SEND code of practice")
               for s in got)
    assert "The SEND Review: new document 'SEND and alternative provision improvement plan' on 127.0.0.1" in got
    assert "sendwatch: source send-tribunal-statistics has failed 2 checks in a row" in got
    assert "sendwatch: source send-tribunal-statistics is working again" in got

    with Store(f"sqlite:///{folder / 'sendwatch.db'}") as store:
        developments = store.ledger.developments()
        assert sorted(d.commitment_id for d in developments) == ["code-of-practice", "send-review"]
        changes = {c.source_id: c for c in store.history.changes()}
        assert set(changes) == {"send-code-of-practice", "send-search", "dfe-news"}
        assert not store.ledger.developments(change_id=changes["dfe-news"].id)  # a change, not a development
        (followed,) = store.sources.followed()
        assert followed.url.endswith("/government/publications/send-and-alternative-provision-improvement-plan")
        assert store.history.checks(followed.id)  # followed, and checked on its own
        assert store.outbox.notifications(status="pending") == []

    # The record stays readable once the demo (and its site) are gone.
    ledger, _ = run(tmp_path, "--config", str(folder / "sendwatch.toml"), "commitments")
    assert ledger.returncode == 0
    assert "send-review  [in progress; " in ledger.stdout and "code-of-practice  [in progress" in ledger.stdout


def test_the_demo_starts_afresh_in_its_own_folder_and_refuses_anyone_elses(tmp_path):
    folder = tmp_path / "demo"
    assert run(tmp_path, "demo", "--no-wait", "--dir", str(folder))[0].returncode == 0
    again, _ = run(tmp_path, "demo", "--no-wait", "--dir", str(folder))
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(subjects(folder / "mail")) == 5  # not ten: the second run started from nothing

    other = tmp_path / "papers"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    refused, _ = run(tmp_path, "demo", "--no-wait", "--dir", str(other))
    assert refused.returncode == 2
    assert "is not empty" in refused.stderr
    assert (other / "notes.txt").read_text() == "mine"
