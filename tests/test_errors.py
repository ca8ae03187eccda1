"""Errors as people read them: one line, and never the SQL a database error carries."""

import json

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from monitor.core.errors import describe
from tests.conftest import config_head
from tests.govuk_site import PageContent, render_govuk_page

PAGE_TEXT = "The revised code of practice was laid before Parliament today."


def test_a_database_error_is_described_without_its_sql_or_parameters():
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE changes (id INTEGER PRIMARY KEY, summary TEXT)"))
        conn.execute(text("INSERT INTO changes VALUES (1, 'first')"))
        with pytest.raises(IntegrityError) as caught:
            conn.execute(text("INSERT INTO changes VALUES (1, :summary)"), {"summary": PAGE_TEXT + "\x00"})
    assert "[SQL:" in str(caught.value)  # what the record used to get
    assert describe(caught.value) == "IntegrityError: UNIQUE constraint failed: changes.id"


@pytest.mark.parametrize("exc, described", [
    (ValueError("bad\nsecond line"), "ValueError: bad"),
    (KeyError("title"), "KeyError: 'title'"),
    (RuntimeError(), "RuntimeError"),
    (RuntimeError("\x1b]0;owned\x07 gone\x00 wrong  \t here"), "RuntimeError: ]0;owned gone wrong here"),
    (RuntimeError("x" * 400), "RuntimeError: " + "x" * 299 + "…"),
])
def test_any_error_is_one_line_without_control_characters(exc, described):
    assert describe(exc) == described


def refuse_changes(database_url: str) -> None:
    """Make the database itself refuse every new change, as a full disk or a broken
    migration would: a trigger, so the refusal comes from the server with its statement."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON changes "
                              "BEGIN SELECT RAISE(ABORT, 'changes are refused here'); END"))
        else:
            conn.execute(text("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'changes are refused here'; END $$"))
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON changes "
                              "FOR EACH ROW EXECUTE FUNCTION refuse()"))
    engine.dispose()


def test_a_check_the_database_refuses_is_recorded_in_one_line_without_sql(sendwatch, site, tmp_path,
                                                                          database_url):
    (tmp_path / "sendwatch.toml").write_text(
        config_head(database_url) + f'[[source]]\nid = "code"\nurl = "{site.url("/code")}"\n', encoding="utf-8")
    site.page("/code", render_govuk_page(PageContent(title="SEND code of practice", body=["Chapter 1."])))
    assert sendwatch("check").out.startswith("first")
    refuse_changes(database_url)
    site.page("/code", render_govuk_page(PageContent(title="SEND code of practice", body=["Chapter 1.", PAGE_TEXT])))

    result = sendwatch("check")
    (line, _total) = result.out.splitlines()
    assert line.startswith("failed") and "internal error: " in line and "changes are refused here" in line
    (source,) = json.loads(sendwatch("sources", "--json").out)
    error = source["last_error"]
    assert error == line.split("code  ", 1)[1]
    for leak in ("[SQL", "INSERT", "parameters", PAGE_TEXT, "\n"):
        assert leak not in error


def test_every_error_sendwatch_defines_is_a_sendwatch_error():
    # One root, so a caller (the CLI, the service) can tell sendwatch's own errors from bugs.
    import importlib
    import inspect
    import pkgutil

    from config.errors import SendwatchError

    found = {}
    for package in ("config", "monitor", "storage"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if ".migrations" in info.name or info.name.endswith("__main__"):  # running, not defining
                continue
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if (inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name
                        and not name.startswith("_")):  # private signals never leave their module
                    found[f"{info.name}.{name}"] = value
    assert {"monitor.app.cli.common.UsageError", "monitor.app.service.ServiceError", "monitor.app.mail.MailError",
            "monitor.core.decoding.OverLimit", "monitor.core.decoding.DecodeFailed"} <= set(found)
    assert [name for name, cls in found.items() if not issubclass(cls, SendwatchError)] == []
