"""sendwatch as a user runs it: the CLI against a real local site and a real database."""

import json
import re

import pytest

from tests.conftest import CODE_OF_PRACTICE, Reply, config_head
from tests.govuk_site import PageContent, render_govuk_page


def page(paragraphs=("The code explains the duties of local authorities.",), attachments=(), history=(),
         **render):
    content = PageContent(
        title="SEND code of practice: 0 to 25 years",
        summary="Statutory guidance for organisations that work with children and young people with SEND.",
        body=list(paragraphs),
        attachments=list(attachments),
        change_history=list(history) or [("2015-01-01T00:00:00Z", "First published.")],
        base_path="/government/publications/send-code-of-practice-0-to-25",
    )
    return render_govuk_page(content, **render)


@pytest.fixture
def config(tmp_path, site, database_url):
    """Write a sendwatch.toml watching pages on the local site; return a function to add sources."""
    path = tmp_path / "sendwatch.toml"
    head = config_head(database_url, max_bytes=200000)
    sources: list[str] = []

    def add(source_id, path_on_site, extra=""):
        sources.append(f'[[source]]\nid = "{source_id}"\nurl = "{site.url(path_on_site)}"\n'
                       f'{extra}\n')
        path.write_text(head + "\n".join(sources), encoding="utf-8")
        return path

    return add


def test_init_writes_the_watchlist_and_the_database(sendwatch, tmp_path):
    result = sendwatch("init")
    assert result.code == 0, result.err
    text = (tmp_path / "sendwatch.toml").read_text()
    assert "send-code-of-practice" in text
    assert (tmp_path / "xdg" / "sendwatch" / "sendwatch.db").exists()
    again = sendwatch("init")
    assert again.code == 0 and "exists; leaving it" in again.out
    assert (tmp_path / "sendwatch.toml").read_text() == text


def test_a_page_that_changes_is_recorded_with_a_readable_summary(sendwatch, site, config):
    config("code", "/code")
    site.page("/code", page())
    first = sendwatch("check")
    assert first.code == 0, first.err
    assert "first" in first.out and "code" in first.out

    site.page("/code", page(noise_seed=2))  # same content, new nonce/CSRF/ids
    assert "unchanged" in sendwatch("check").out

    site.page("/code", page(
        attachments=[("SEND code of practice (2026 revision)", "/media/code-2026.pdf", "PDF, 2.1 MB, 300 pages")],
        history=[("2026-11-20T10:00:00Z", "Revised code of practice published."),
                 ("2015-01-01T00:00:00Z", "First published.")]))
    changed = sendwatch("check")
    assert "changed" in changed.out
    assert ("1 document added: 'SEND code of practice (2026 revision)'; "
            "change note: 'Revised code of practice published.'") in changed.out

    changes = json.loads(sendwatch("changes", "--json").out)
    assert len(changes) == 1
    assert changes[0]["source"] == "code"
    assert changes[0]["added_items"][0]["url"] == site.url("/media/code-2026.pdf")

    diff = sendwatch("diff", "code")
    assert diff.code == 0
    assert "+ document added: SEND code of practice (2026 revision)" in diff.out

    history = sendwatch("history", "code", "--checks", "5")
    assert history.out.count("snapshot ") == 2
    assert "first snapshot" in history.out and "change 1:" in history.out
    # Every check is in the record, the unchanged one (written with its pass's batch) too.
    outcomes = [line.split()[3] for line in history.out.split("recent checks:")[1].splitlines() if line.strip()]
    assert outcomes == ["changed", "unchanged", "first"]


@pytest.mark.parametrize("noise", [
    {"noise_seed": 7},
    {"nav_variant": 1},
    {"banner": True},
    {"noise_seed": 9, "nav_variant": 2, "banner": True},
])
def test_noise_is_never_a_change(sendwatch, site, config, noise):
    config("code", "/code")
    site.page("/code", page(noise_seed=1))
    sendwatch("check")
    site.page("/code", page(**noise))
    result = sendwatch("check")
    assert "unchanged" in result.out, result.out
    assert json.loads(sendwatch("changes", "--json").out) == []


FAILURES = [
    (Reply(b"oops", status=500), "HTTP 500"),
    (Reply(b"busy", status=503, headers={"Retry-After": "3600"}), "asks to wait 3600 s"),
    (Reply(hang=True), "timed out"),
    (Reply(b"<html><body>" + b"<p>x</p>" * 2000 + b"</body></html>", truncate_to=500), "incomplete"),
    (Reply(b"<html>" + b"x" * 300_000 + b"</html>"), "cap"),
    (Reply(b"%PDF-1.7\n1 0 obj", content_type="application/pdf"), "expected an HTML page but got application/pdf"),
    (Reply(b"%PDF-1.7\n1 0 obj", content_type="text/html"), "expected an HTML page"),
    (Reply(status=302, headers={"Location": "/code"}), "redirect loop"),
    (Reply(status=302, headers={"Location": "javascript:alert(1)"}),
     "refusing to fetch 'javascript:alert(1)': only http and https are allowed"),
    (Reply(b"\x00" * 300, headers={"Content-Encoding": "gzip, gzip"}), "cannot be decompressed"),
    (Reply(b"<html><body>" + b"<p>x</p>" * 2000 + b"</body></html>", close_delimited=True, truncate_to=900),
     "stops before its end"),
]


@pytest.mark.parametrize("reply, reason", FAILURES, ids=[
    "500", "503-retry-after", "hang", "truncated", "too-large", "pdf", "pdf-as-html", "redirect-loop",
    "redirect-to-javascript", "not-gzip", "cut-short-without-length"])
def test_a_failed_check_is_reported_and_loses_nothing(sendwatch, site, config, reply, reason):
    config("code", "/code")
    site.page("/code", page())
    sendwatch("check")
    site.set("/code", reply)
    result = sendwatch("check")
    assert result.code == 0  # one broken source does not fail the pass
    assert "failed" in result.out and reason in result.out

    sources = json.loads(sendwatch("sources", "--json").out)
    assert sources[0]["consecutive_failures"] == 1 and reason in sources[0]["last_error"]
    assert json.loads(sendwatch("changes", "--json").out) == []

    site.page("/code", page())  # back to normal: same content as before, so no change
    assert "unchanged" in sendwatch("check").out
    assert json.loads(sendwatch("sources", "--json").out)[0]["consecutive_failures"] == 0


def test_a_check_the_database_will_not_record_is_not_reported_as_a_success(sendwatch, site, config,
                                                                          database_url):
    # A pass writes its unchanged checks together at the end. When the database refuses
    # them, the pass must not claim they were recorded.
    config("code", "/code")
    config("other", "/other")
    site.page("/code", page())
    site.page("/other", page(paragraphs=("Another page.",)))
    assert sendwatch("check").code == 0
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON checks WHEN NEW.outcome = 'unchanged' "
                              "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"))
        else:
            conn.execute(text("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                              "RAISE EXCEPTION 'the disk is full'; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON checks FOR EACH ROW "
                              "WHEN (NEW.outcome = 'unchanged') EXECUTE FUNCTION refuse()"))
    engine.dispose()
    result = sendwatch("check")
    lines = [line for line in result.out.splitlines() if line.startswith(("failed", "unchanged"))]
    assert len(lines) == 2 and all(line.startswith("failed") for line in lines), result.out
    assert "checked (nothing new), but the check could not be recorded" in result.out
    assert "the disk is full" in result.out
    assert "[SQL" not in result.out and "INSERT" not in result.out  # the database's words, not its statement


CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1, newline and tab aside


def test_page_text_with_terminal_escapes_is_printed_without_them(sendwatch, site, config):
    config("code", "/code")
    site.page("/code", page())
    sendwatch("check")
    site.page("/code", page(paragraphs=("The code explains the duties of local authorities.",
                                        "Schools \x1b[2J\x1b]0;owned\x07must\x08 act.\x9b"),
                            attachments=[("Easy\x1b[5m read\x07", "/media/easy-read.pdf", "PDF")]))
    outputs = [sendwatch("check").out]
    assert "1 document added: 'Easy[5m read'" in outputs[0]
    outputs += [sendwatch(*args).out for args in (("changes",), ("diff", "code"), ("history", "code", "--checks", "3"),
                                                  ("explain", "1"))]
    assert "+Schools [2J]0;ownedmust act." in outputs[2]
    for out in outputs:
        assert not CONTROLS.search(out), out


def test_a_record_written_before_page_text_was_cleaned_is_printed_without_escapes(sendwatch, site, config,
                                                                                  database_url):
    # Records kept from before page text was cleaned hold the escapes as they came, and an
    # error may quote a server: each command that prints them makes them harmless.
    from sqlalchemy import create_engine, text

    from storage.history import compress_json, decompress_json

    config("code", "/code", 'commitments = ["code-of-practice"]\n' + CODE_OF_PRACTICE)
    site.page("/code", page())
    sendwatch("check")
    site.page("/code", page(attachments=[("SEND code of practice: 0 to 25 years (2026 revision)",
                                          "/media/code-2026.pdf", "PDF")]))
    assert "development for: code-of-practice" in sendwatch("check").out
    hostile = "Revised\x1b]0;owned\x07 code\x08\x9b"
    engine = create_engine(database_url)
    with engine.begin() as conn:
        detail = decompress_json(conn.execute(text("SELECT detail FROM changes")).scalar_one())
        detail["added_lines"] = [hostile]
        conn.execute(text("UPDATE changes SET summary = :s, detail = :d"),
                     {"s": hostile, "d": compress_json(detail)})
        conn.execute(text("UPDATE developments SET title = :s"), {"s": hostile})
        conn.execute(text("UPDATE checks SET error = :s"), {"s": hostile})
        conn.execute(text("UPDATE sources SET last_error = :s, consecutive_failures = 1"), {"s": hostile})
    engine.dispose()

    runs = {args: sendwatch(*args) for args in (("changes",), ("history", "code", "--checks", "3"),
                                                 ("explain", "1"), ("commitments",), ("sources",))}
    for args, run in runs.items():
        assert run.code == 0, run.err
        assert "Revised]0;owned code" in run.out, (args, run.out)
        assert not CONTROLS.search(run.out), (args, run.out)


def test_a_selector_that_matches_nothing_is_a_failed_check(sendwatch, site, config):
    config("code", "/code", 'selector = "#no-such-part"')
    site.page("/code", page())
    result = sendwatch("check")
    assert "failed" in result.out and "matched nothing" in result.out
    assert sendwatch("history", "code").out.startswith("code: no snapshot yet")


def test_a_page_in_a_wrong_or_missing_charset_reads_the_same(sendwatch, site, config):
    config("code", "/code")
    text = ("Parents’ views on the café-style drop-in sessions.",)
    site.page("/code", page(text))
    sendwatch("check")
    site.page("/code", page(text).encode("utf-8"), content_type="text/html; charset=iso-8859-1")
    assert "unchanged" in sendwatch("check").out
    latin = page(("Parents' views on the café-style drop-in sessions.",), charset="windows-1252")
    site.page("/code", latin.encode("windows-1252"), content_type="text/html")
    changed = sendwatch("check")
    assert "1 line added, 1 line removed" in changed.out
    detail = json.loads(sendwatch("changes", "--json").out)[0]
    assert detail["added_lines"] == ["Parents' views on the café-style drop-in sessions."]


def test_a_whole_page_without_a_content_length_is_read(sendwatch, site, config):
    config("code", "/code")
    site.set("/code", Reply(page().encode(), close_delimited=True))
    result = sendwatch("check")
    assert "first" in result.out, result.out


def test_conditional_requests_are_used_when_offered(sendwatch, site, config):
    config("code", "/code")
    site.set("/code", [Reply(page().encode(), headers={"ETag": '"v1"'}), Reply(status=304, content_type=None)])
    sendwatch("check")
    assert "not-modified" in sendwatch("check").out
    assert site.hits("/code")[1]["if-none-match"] == '"v1"'


def test_check_only_the_named_sources_and_refuse_unknown_ones(sendwatch, site, config):
    config("one", "/one")
    config("two", "/two")
    site.page("/one", page())
    site.page("/two", page())
    result = sendwatch("check", "two")
    assert "two" in result.out and "one " not in result.out
    assert site.hits("/one") == []
    unknown = sendwatch("check", "three")
    assert unknown.code == 2 and "unknown source(s): three" in unknown.err


def test_sources_lists_state(sendwatch, site, config):
    config("code", "/code")
    site.set("/code", Reply(b"x", status=500))
    sendwatch("check")
    out = sendwatch("sources").out
    assert "code" in out and "1 failure(s) in a row" in out and "last error: HTTP 500" in out


def test_an_invalid_config_exits_2_and_writes_nothing(sendwatch, tmp_path):
    (tmp_path / "sendwatch.toml").write_text(
        f'data_dir = "{tmp_path / "state"}"\n[[source]]\nid = "x"\nurl = "gopher://old"\n')
    for command in (["check"], ["sources"], ["init"]):
        result = sendwatch(*command)
        assert result.code == 2
        assert "sendwatch.toml: source 'x' (sources[0]), field 'url'" in result.err
    assert not (tmp_path / "state").exists()


def test_prune_needs_a_limit_and_keeps_the_current_snapshot(sendwatch, site, config, tmp_path):
    config("code", "/code")
    site.page("/code", page())
    sendwatch("check")
    refused = sendwatch("prune")
    assert refused.code == 2 and "keeps everything" in refused.err
    done = sendwatch("prune", "--older-than", "0s")
    assert done.code == 0 and "1 checks" in done.out
    assert "snapshot 1" in sendwatch("history", "code").out


@pytest.mark.parametrize("command", ["init", "check", "sources", "history", "diff", "changes", "prune"])
def test_every_command_has_help_with_an_example(sendwatch, command):
    result = sendwatch(command, "--help")
    assert result.code == 0 and "example:" in result.out and "sendwatch " + command in result.out


def test_since_a_date_means_from_midnight_in_london():
    from datetime import UTC, datetime

    from monitor.app.cli import since

    assert since("2026-06-01") == datetime(2026, 5, 31, 23, 0, tzinfo=UTC)  # BST
    assert since("2026-01-10") == datetime(2026, 1, 10, 0, 0, tzinfo=UTC)  # GMT
    assert since("2026-06-01T12:00:00") == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_version_stored_with_control_characters_is_not_a_change_when_read_clean(sendwatch, site, config,
                                                                                   database_url):
    # Snapshots stored before page text was cleaned keep their escapes, and the hash of
    # them: the same page read today, cleaned, must not be reported as a change.
    import hashlib
    import zlib

    from sqlalchemy import create_engine, text

    config("code", "/code")
    site.page("/code", page(paragraphs=("The code explains\a duties.",)))  # a BEL in the page
    sendwatch("check")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        raw = zlib.decompress(conn.execute(text("SELECT content FROM snapshots")).scalar_one()).decode()
        dirty = raw.replace("explains duties", "explains\\u0007 duties")  # as it was once stored
        assert dirty != raw
        conn.execute(text("UPDATE snapshots SET content = :c, content_hash = :h"),
                     {"c": zlib.compress(dirty.encode()), "h": hashlib.sha256(dirty.encode()).hexdigest()})
    engine.dispose()

    result = sendwatch("check")
    assert result.out.startswith("unchanged"), result.out
    assert sendwatch("changes").out.startswith("no changes")
