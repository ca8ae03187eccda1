"""The configuration a user writes, and the messages they get when it is wrong."""

from pathlib import Path

import pytest

from config import ConfigError, load_settings, parse_duration, parse_settings
from monitor.sources import KINDS

GOOD = """
[[commitment]]
id = "code-of-practice"
title = "A revised SEND Code of Practice"
promise = "Revise the SEND Code of Practice."
made_in = "Government response"
made_on = 2020-07-23
phrases = ["SEND code of practice"]

[fetch]
contact = "alerts@example.org"
per_host_delay = "2s"

[[source]]
id = "code-of-practice"
url = "https://www.gov.uk/government/publications/send-code-of-practice-0-to-25"
selector = "main"
interval = "6h"
commitments = ["code-of-practice"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sendwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problem(tmp_path, text) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={}, kinds=KINDS)
    return str(caught.value)


def test_a_good_file_gives_its_sources_with_defaults(tmp_path):
    settings = load_settings(write(tmp_path, GOOD), env={}, kinds=KINDS)
    (source,) = settings.sources
    assert source.id == "code-of-practice"
    assert source.kind == "page"
    assert source.interval == 6 * 3600
    assert source.options == {"selector": "main"}
    assert source.commitments == ("code-of-practice",)
    assert settings.fetch.per_host_delay == 2.0
    assert settings.fetch.max_bytes == 10_000_000  # the documented default cap


def test_database_defaults_to_sqlite_in_the_data_dir(tmp_path):
    settings = load_settings(write(tmp_path, GOOD), env={"XDG_DATA_HOME": str(tmp_path / "xdg")}, kinds=KINDS)
    assert settings.database_url == f"sqlite:///{tmp_path / 'xdg' / 'sendwatch' / 'sendwatch.db'}"


def test_environment_wins_for_the_database_and_data_dir(tmp_path):
    # A PostgreSQL URL loads only with its driver (sendwatch[postgres]; the test extras have it).
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is not installed (pip install 'sendwatch[postgres]')")
    env = {"SENDWATCH_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/x",
           "SENDWATCH_DATA_DIR": str(tmp_path / "d")}
    settings = load_settings(write(tmp_path, 'database_url = "sqlite:///ignored.db"\n' + GOOD), env=env, kinds=KINDS)
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1/x"
    assert settings.data_dir == tmp_path / "d"


def test_a_relative_data_dir_is_relative_to_the_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    settings = load_settings(write(tmp_path, 'data_dir = "state"\n' + GOOD), env={}, kinds=KINDS)
    assert settings.database_url == f"sqlite:///{tmp_path / 'state' / 'sendwatch.db'}"


def test_config_is_found_from_the_environment_then_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text(GOOD.replace("code-of-practice\"\nurl", "from-env\"\nurl"), encoding="utf-8")
    assert load_settings(env={"SENDWATCH_CONFIG": str(other)}, kinds=KINDS).sources[0].id == "from-env"
    write(tmp_path, GOOD)
    assert load_settings(env={}, kinds=KINDS).sources[0].id == "code-of-practice"


def test_without_a_config_file_the_shipped_watchlist_is_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={}, kinds=KINDS)
    ids = {s.id for s in settings.sources}
    assert "send-code-of-practice" in ids and "area-send-framework" in ids
    assert all(s.url.startswith("https://") for s in settings.sources)


def test_the_error_names_file_source_field_and_problem(tmp_path):
    message = problem(tmp_path, GOOD.replace('interval = "6h"', 'interval = "every day"'))
    assert "sendwatch.toml" in message
    assert "'code-of-practice'" in message
    assert "'interval'" in message
    assert "'every day' is not a duration" in message


@pytest.mark.parametrize(
    "change, expected",
    [
        (('url = "https://www.gov.uk', 'url = "ftp://www.gov.uk'), "is not an http:// or https:// URL"),
        (('id = "code-of-practice"', 'id = "Code Of Practice"'), "field 'id'"),
        (('selector = "main"', 'selectr = "main"'), "field 'selectr': is not a known setting"),
        (('selector = "main"', 'kind = "carrier-pigeon"'),
         "unknown kind 'carrier-pigeon'; known kinds: feed, govuk-content"),
        (('interval = "6h"', 'interval = "10s"'), "at least 60 seconds"),
        (('contact = "alerts@example.org"', 'max_bytes = -1'), "field 'fetch.max_bytes'"),
        (('id = "code-of-practice"\n', ''), "field 'id': is required but missing"),
        (('[fetch]', '[email]\nsend_budget = 0\n[fetch]'), "field 'email.send_budget'"),
        (('[fetch]', '[email]\nsend_budget = "10m"\n[fetch]'),
         "field 'email.send_budget': 600 s is not below the 300 s after which another sender takes back"),
        (('[fetch]', '[web]\npublic_url = "ftp://sendwatch.example.org"\n[fetch]'),
         "field 'web.public_url': 'ftp://sendwatch.example.org' is not an http:// or https:// URL"),
        (('[fetch]', '[web]\npublic_url = "https://sendwatch.example.org/?x=1"\n[fetch]'),
         "field 'web.public_url': 'https://sendwatch.example.org/?x=1' must be a plain base address"),
        (('selector = "main"', 'selector = "main[[["'),
         "field 'selector': 'main[[[' is not a CSS selector: expected ident or '*'"),
        (('selector = "main"', 'selector = "main :required"'),
         "field 'selector': 'main :required' is not a CSS selector: the pseudo-class :required is unknown"),
    ],
)
def test_each_kind_of_mistake_gets_a_clear_message(tmp_path, change, expected):
    old, new = change
    assert old in GOOD
    assert expected in problem(tmp_path, GOOD.replace(old, new))


def test_a_source_naming_an_unknown_commitment_is_refused(tmp_path):
    typo = GOOD.replace('commitments = ["code-of-practice"]', 'commitments = ["code-of-practise"]')
    message = problem(tmp_path, typo)
    assert ("source 'code-of-practice' (sources[0]), field 'commitments': unknown commitment 'code-of-practise' "
            "(known: code-of-practice)") in message


def test_a_recipient_naming_an_unknown_commitment_is_refused(tmp_path):
    message = problem(tmp_path, GOOD + '[[recipient]]\nemail = "a@example.org"\ncommitments = ["sendreview"]\n')
    assert "recipient 'a@example.org' (recipients[0]), field 'commitments': unknown commitment 'sendreview'" in message


def test_a_recipient_with_a_bad_address_or_mode_is_refused(tmp_path):
    message = problem(tmp_path, GOOD + '[[recipient]]\nemail = "not an address"\n')
    assert "recipients[0]" in message and "is not an email address" in message
    message = problem(tmp_path, GOOD + '[[recipient]]\nemail = "a@example.org"\nmode = "hourly"\n')
    assert "field 'mode': must be 'each', 'daily' or 'weekly' (got 'hourly')" in message
    message = problem(tmp_path, GOOD + '[[recipient]]\nemail = "a@example.org"\nweekday = "Funday"\n')
    assert "field 'weekday': must be 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday' or " \
           "'sunday' (got 'Funday')" in message
    message = problem(tmp_path, GOOD + '[email.smtp]\nhost = "smtp.example.org"\nsecurity = "ssl"\n')
    assert "field 'email.smtp.security': must be 'starttls', 'tls' or 'none' (got 'ssl')" in message


def test_a_weekday_is_read_in_any_case(tmp_path):
    path = write(tmp_path, GOOD + '[[recipient]]\nemail = "a@example.org"\nmode = "weekly"\nweekday = "Friday"\n')
    assert load_settings(path, env={}, kinds=KINDS).recipients[0].weekday == "friday"


def test_duplicate_ids_are_refused(tmp_path):
    source = GOOD.split("[[source]]")[1]
    assert "source id 'code-of-practice' is used twice" in problem(tmp_path, GOOD + "[[source]]" + source)


def test_broken_toml_names_the_file_and_line(tmp_path):
    message = problem(tmp_path, GOOD + "\n[[source]\n")
    assert "sendwatch.toml" in message and "not valid TOML" in message and "line" in message


def test_a_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "nope.toml", env={}, kinds=KINDS)


@pytest.mark.parametrize("text, seconds", [(90, 90), ("90", 90), ("15m", 900), ("6h", 21600),
                                           ("1d", 86400), ("2w", 1209600), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_the_shipped_watchlist_is_valid_and_its_sources_name_commitments():
    from config.loader import embedded_watchlist_text
    from monitor.sources import make_source

    settings = parse_settings(embedded_watchlist_text(), origin="shipped", env={}, kinds=KINDS)
    kinds = {s.kind for s in settings.sources}
    assert kinds == {"page", "govuk-content", "govuk-search", "feed", "parliament-committee",
                     "parliament-written-answers", "parliament-written-statements"}
    # A source that does not discover documents is only matched against its own commitments.
    assert all(s.commitments for s in settings.sources if not make_source(s).discovers)
    committee = next(s for s in settings.sources if s.kind == "parliament-committee")
    assert committee.options["committee_id"] == 203
    # Ministers' written answers and statements: the Department for Education's (body 60).
    written = [s for s in settings.sources if s.kind.startswith("parliament-written-")]
    assert written and all(make_source(s).options.answering_bodies == (60,) for s in written)
    seed = {"send-review", "code-of-practice", "childrens-social-care-review", "send-inspection-framework",
            "send-futures-value-for-money", "tribunal-data", "notional-send-budget", "committee-scrutiny"}
    assert seed <= {c.id for c in settings.commitments}


def test_the_dashboard_address_can_come_from_the_environment(tmp_path):
    path = write(tmp_path, GOOD)
    settings = load_settings(path, env={"SENDWATCH_WEB_HOST": "0.0.0.0", "SENDWATCH_WEB_PORT": "9090"}, kinds=KINDS)
    assert (settings.web.host, settings.web.port) == ("0.0.0.0", 9090)
    default = load_settings(path, env={}, kinds=KINDS)
    assert (default.web.host, default.web.port) == ("127.0.0.1", 8080)
    with pytest.raises(ConfigError, match="SENDWATCH_WEB_PORT='http' is not a port number"):
        load_settings(path, env={"SENDWATCH_WEB_PORT": "http"}, kinds=KINDS)


@pytest.mark.parametrize("url, expected", [
    ("nonsense", "field 'database_url': 'nonsense' is not a database URL"),
    ("mysql://root@127.0.0.1/x", "field 'database_url': cannot use 'mysql'"),
])
def test_an_unusable_database_url_is_a_config_error(tmp_path, url, expected):
    assert expected in problem(tmp_path, f'database_url = "{url}"\n' + GOOD)


def test_an_id_with_a_trailing_newline_is_refused(tmp_path):
    assert "field 'id'" in problem(tmp_path, GOOD.replace('id = "code-of-practice"\nurl', 'id = "cop\\n"\nurl'))


def test_the_public_url_of_the_dashboard_is_kept_without_a_trailing_slash(tmp_path):
    written = write(tmp_path, '[web]\npublic_url = "https://example.org/send/"\n' + GOOD)
    settings = load_settings(written, env={}, kinds=KINDS)
    assert settings.web.public_url == "https://example.org/send"
    assert load_settings(write(tmp_path, GOOD), env={}, kinds=KINDS).web.public_url is None


def test_no_test_reaches_the_users_own_data_directory(tmp_path, monkeypatch):
    # tests/conftest.py gives every test a scratch home; without it, a test that leaves
    # data_dir to its default would share the data, status file and service lock of the
    # user's own sendwatch.
    import os
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SENDWATCH_DATA_DIR", raising=False)
    settings = load_settings(env=os.environ, kinds=KINDS)
    assert settings.data_dir.is_relative_to(tmp_path)
    child = subprocess.run([sys.executable, "-c", "import os.path; print(os.path.expanduser('~'))"],
                           capture_output=True, text=True, check=True)
    assert Path(child.stdout.strip()).is_relative_to(tmp_path)


@pytest.mark.parametrize("field, value", [
    ("from", r'"sendwatch <alerts@example.org>\r\nBcc: everyone@example.org"'),
    ("reply_to", r'"replies@example.org\nBcc: everyone@example.org"'),
])
def test_an_email_header_with_a_line_break_is_refused(tmp_path, field, value):
    message = problem(tmp_path, GOOD + f"[email]\n{field} = {value}\n")
    assert f"field 'email.{field}': must be one line of text" in message


def test_a_recipient_listed_twice_is_refused(tmp_path):
    recipients = '[[recipient]]\nemail = "a@example.org"\n[[recipient]]\nemail = "b@example.org"\n' \
                 '[[recipient]]\nemail = "A@Example.org"\nmode = "daily"\n'
    message = problem(tmp_path, GOOD + recipients)
    assert "recipient 'A@Example.org' is listed twice (recipients[0] and recipients[2])" in message


@pytest.mark.parametrize("written", ["2020-7-23", "23/07/2020", "2020-02-30"])
def test_a_mistyped_date_names_its_line_field_and_the_form_expected(tmp_path, written):
    message = problem(tmp_path, GOOD.replace("made_on = 2020-07-23", f"made_on = {written}"))
    line = GOOD.splitlines().index("made_on = 2020-07-23") + 1
    assert message.endswith(f"sendwatch.toml, line {line}, field 'made_on': '{written}' is not a date; "
                            "write it as YYYY-MM-DD without quotes, such as 2020-07-23")


def test_an_expected_page_is_a_yes_or_no_for_a_commitment_on_a_page_kind(tmp_path):
    expected = GOOD.replace('interval = "6h"\n', 'interval = "6h"\nexpected = true\n')
    assert load_settings(write(tmp_path, expected), env={}, kinds=KINDS).sources[0].expected is True
    message = problem(tmp_path, expected.replace("expected = true", 'expected = "yes"'))
    assert "source 'code-of-practice' (sources[0]), field 'expected': Input should be a valid boolean (got 'yes')" \
        in message
    message = problem(tmp_path, expected.replace('commitments = ["code-of-practice"]', "commitments = []"))
    assert ("source 'code-of-practice' (sources[0]), field 'expected': an expected page needs the commitments "
            "its appearance bears on") in message
    message = problem(tmp_path, expected.replace("expected = true", 'expected = true\nkind = "feed"')
                      .replace('selector = "main"\n', ""))
    assert ("source 'code-of-practice' (sources[0]), field 'expected': a feed source lists documents as they "
            "come") in message


def test_an_operator_with_a_bad_address_an_unknown_field_or_listed_twice_is_refused(tmp_path):
    message = problem(tmp_path, GOOD + '[[operator]]\nemail = "ops at example.org"\n')
    assert "operators[0], field 'email'" in message and "is not an email address" in message
    message = problem(tmp_path, GOOD + '[[operator]]\nemail = "ops@example.org"\nmode = "daily"\n')
    assert "operators[0], field 'mode'" in message
    twice = '[[operator]]\nemail = "ops@example.org"\n[[operator]]\nemail = "OPS@example.org"\n'
    message = problem(tmp_path, GOOD + twice)
    assert "operator 'OPS@example.org' is listed twice (operators[0] and operators[1])" in message


def test_an_address_may_be_both_recipient_and_operator(tmp_path):
    path = tmp_path / "both.toml"
    path.write_text(GOOD + '[[recipient]]\nemail = "me@example.org"\n[[operator]]\nemail = "me@example.org"\n')
    settings = load_settings(path, env={}, kinds=KINDS)
    assert settings.addresses == {"me@example.org"} and settings.operators[0].email == "me@example.org"
