"""The dashboard's operator actions end to end (uvicorn on 127.0.0.1, the real record):
sign in with the password whose Argon2 hash is in the environment, then mark a commitment,
confirm and reject possible developments, check a source now; and what an action without
a session, a forged form, a tampered session or a wrong password gets: nothing done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest
from argon2 import PasswordHasher
from bs4 import BeautifulSoup

from config import load_settings
from monitor.app.web import create_app
from monitor.core.diff import diff_documents
from monitor.core.document import Document
from monitor.core.drafts import CONFIRMED, POSSIBLE, REJECTED, DevelopmentDraft
from monitor.sources import KINDS
from storage import CheckMeta, Store
from tests.conftest import CODE_OF_PRACTICE
from tests.mailserver import free_port
from tests.test_email import code_page
from tests.test_subscribe_web import SECRET, form_of, serving_on

PASSWORD = "correct horse battery staple"


@pytest.fixture
def world(tmp_path, site, database_url):
    path = tmp_path / "sendwatch.toml"
    path.write_text(f'database_url = "{database_url}"\n[fetch]\nper_host_delay = 0\nretries = 0\n'
                    '[[recipient]]\nemail = "parent@example.org"\n' + CODE_OF_PRACTICE
                    + f'[[source]]\nid = "code"\nurl = "{site.url("/code")}"\ncommitments = ["code-of-practice"]\n')
    env = {"SENDWATCH_SECRET_KEY": SECRET, "SENDWATCH_OPERATOR_PASSWORD_HASH": PasswordHasher().hash(PASSWORD)}
    settings = load_settings(path, env=env, kinds=KINDS)
    store = Store(settings.database_url)
    store.sources.sync(settings.sources)
    store.subscribers.sync(settings.recipients)
    old, new = Document(title="Code", blocks=("a",)), Document(title="Code", blocks=("a", "b"))
    drafts = [DevelopmentDraft(commitment_id="code-of-practice", title=f"possible {n}", score=0.4, evidence=[],
                               url=f"https://www.gov.uk/doc-{n}", document_key=f"gov.uk:/doc-{n}", status=POSSIBLE)
              for n in (1, 2)]
    store.history.record_document("code", old, None, CheckMeta(datetime.now(UTC), 1))
    store.history.record_document("code", new, diff_documents(old, new), CheckMeta(datetime.now(UTC), 1),
                                  developments=drafts)
    site.page("/code", code_page())
    holder = {"settings": settings}
    with serving_on(create_app(lambda: holder["settings"], store), free_port()) as base:
        yield base, store, holder
    store.close()


@contextmanager
def signed_in(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base) as client:
        page = client.get("/operator/sign-in")
        done = client.post("/operator/sign-in", data={**form_of(page), "password": PASSWORD})
        assert done.status_code == 303 and "sendwatch_operator" in client.cookies
        yield client


def possible(store):
    return {d.title: d for d in store.ledger.developments(statuses=None)}


def test_a_signed_in_operator_marks_reviews_and_checks_from_the_dashboard(world):
    base, store, _ = world
    with signed_in(base) as client:
        home = client.get("/")
        assert "Signed in as the operator" in home.text
        first = possible(store)["possible 1"].id
        assert BeautifulSoup(home.text, "html.parser").find(
            "button", attrs={"aria-label": f"Confirm development {first}"}) is not None
        token = form_of(home)["csrf_token"]
        confirmed = client.post(f"/developments/{possible(store)['possible 1'].id}/review",
                                data={"csrf_token": token, "action": "confirm"})
        assert confirmed.status_code == 303
        client.post(f"/developments/{possible(store)['possible 2'].id}/review",
                    data={"csrf_token": token, "action": "reject"})
        assert possible(store)["possible 1"].status == CONFIRMED and possible(store)["possible 2"].status == REJECTED
        assert [n.recipient for n in store.outbox.notifications(status="pending")] == ["parent@example.org"]
        marked = client.post("/commitments/code-of-practice/mark",
                             data={"csrf_token": token, "state": "delivered", "note": "Revised Code laid"},
                             follow_redirects=True)
        assert marked.status_code == 200 and "The commitment is marked." in marked.text
        assert store.ledger.latest_marks()["code-of-practice"].state == "delivered"
        no_note = client.post("/commitments/code-of-practice/mark", data={"csrf_token": token, "state": "dropped"})
        assert no_note.status_code == 400 and "say why" in no_note.text.lower()
        checks = len(store.history.checks("code"))
        checked = client.post("/sources/code/check", data={"csrf_token": token}, follow_redirects=True)
        assert checked.status_code == 200 and len(store.history.checks("code")) == checks + 1
        out = client.post("/operator/sign-out", data={"csrf_token": token})
        assert out.status_code == 303 and "Signed in as the operator" not in client.get("/").text


def test_actions_without_a_session_or_with_a_forged_form_change_nothing(world):
    base, store, holder = world
    before = {t: d.status for t, d in possible(store).items()}
    target = f"/developments/{possible(store)['possible 1'].id}/review"
    with httpx.Client(base_url=base) as anonymous:
        home = anonymous.get("/")
        assert "Confirm development" not in home.text and "Operator sign-in" in home.text
        token = form_of(anonymous.get("/operator/sign-in"))["csrf_token"]  # a valid form token, no session
        refused = anonymous.post(target, data={"csrf_token": token, "action": "confirm"})
        assert refused.status_code == 403 and "sign in first" in refused.text
        anonymous.cookies.set("sendwatch_operator", "operator.AAAAAA.forged")  # a session nobody signed
        assert anonymous.post(target, data={"csrf_token": token, "action": "confirm"}).status_code == 403
        assert anonymous.post("/sources/code/check", data={"csrf_token": token}).status_code == 403
    with signed_in(base) as client:
        forged = client.post(target, data={"csrf_token": "0" * 64, "action": "confirm"})
        assert forged.status_code == 403
        # Rotating the secret signs every operator out.
        token = form_of(client.get("/"))["csrf_token"]
        holder["settings"] = holder["settings"].model_copy(update={"secret_key": "z" * 40})
        assert client.post(target, data={"csrf_token": token, "action": "confirm"}).status_code == 403
    assert {t: d.status for t, d in possible(store).items()} == before
    assert store.ledger.latest_marks() == {}


def test_a_wrong_password_is_refused_and_attempts_are_limited(world):
    base, _store, _ = world
    with httpx.Client(base_url=base) as client:
        for _ in range(5):
            page = client.get("/operator/sign-in")
            wrong = client.post("/operator/sign-in", data={**form_of(page), "password": "guess"})
            assert wrong.status_code == 401 and "sendwatch_operator" not in client.cookies
        page = client.get("/operator/sign-in")
        assert client.post("/operator/sign-in", data={**form_of(page), "password": PASSWORD}).status_code == 429


def test_without_a_password_hash_there_is_no_sign_in(tmp_path, site, database_url):
    path = tmp_path / "s.toml"
    path.write_text(f'database_url = "{database_url}"\n' + CODE_OF_PRACTICE)
    settings = load_settings(path, env={"SENDWATCH_SECRET_KEY": SECRET}, kinds=KINDS)
    with Store(settings.database_url) as store, serving_on(create_app(lambda: settings, store), free_port()) as base:
        assert httpx.get(f"{base}/operator/sign-in").status_code == 404
        assert "Operator sign-in" not in httpx.get(f"{base}/").text


def test_a_hash_that_is_not_argon2_is_a_config_error(tmp_path):
    from config import ConfigError
    path = tmp_path / "s.toml"
    path.write_text(CODE_OF_PRACTICE)
    with pytest.raises(ConfigError, match="SENDWATCH_OPERATOR_PASSWORD_HASH is not an Argon2 hash"):
        load_settings(path, env={"SENDWATCH_OPERATOR_PASSWORD_HASH": "plaintext"}, kinds=KINDS)


def test_a_new_password_signs_every_session_out_and_a_confirmation_reaches_new_subscribers(world):
    base, store, holder = world
    from config.settings import RecipientSettings
    store.subscribers.add(RecipientSettings(email="joined-later@example.org"))  # after the app started
    target = f"/developments/{possible(store)['possible 1'].id}/review"
    with signed_in(base) as client:
        token = form_of(client.get("/"))["csrf_token"]
        assert client.post(target, data={"csrf_token": token, "action": "confirm"}).status_code == 303
        assert sorted(n.recipient for n in store.outbox.notifications(status="pending")) == [
            "joined-later@example.org", "parent@example.org"]
        # An id no database can hold is a page not found, not a crash.
        huge = client.post("/developments/99999999999999999999999/review",
                           data={"csrf_token": token, "action": "confirm"})
        assert huge.status_code == 404
        holder["settings"] = holder["settings"].model_copy(
            update={"operator_password_hash": PasswordHasher().hash("another long password")})
        assert "Signed in as the operator" not in client.get("/").text
