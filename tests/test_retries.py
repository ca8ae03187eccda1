"""A source that fails for a moment, in ``sendwatch check``: read again later in the same
pass, never at the cost of the other sources, and never recorded as a change.

Everything runs against the real local site; when each request arrived is the site's
own log (``Site.hit_times``), so nothing here sleeps and hopes."""

import json
import threading
import time

import pytest

from tests.conftest import Reply, config_head

READ_TIMEOUT = 1.0


def html(text: str) -> bytes:
    return f"<html><head><title>{text}</title></head><body><main><h1>{text}</h1><p>{text} and more.</p>" \
           f"</main></body></html>".encode()


@pytest.fixture
def watch(tmp_path, site, database_url):
    """Write a sendwatch.toml watching the given paths (source id = the path without its
    slash), with ``[fetch]`` keys given as extra keywords."""
    def write(*paths: str, **fetch) -> None:
        head = config_head(database_url, **{"read_timeout": READ_TIMEOUT, **fetch})
        sources = "".join(f'[[source]]\nid = "{p.strip("/")}"\nurl = "{site.url(p)}"\n' for p in paths)
        (tmp_path / "sendwatch.toml").write_text(head + sources)
    return write


def outcomes(out: str) -> dict[str, str]:
    """source id -> its outcome, from the lines ``sendwatch check`` prints."""
    found = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("first", "unchanged", "changed", "failed", "not-modified"):
            found[words[1].rstrip(":")] = words[0]
    return found


def test_a_blip_and_a_short_503_are_recovered_in_the_same_check_and_a_hang_is_waited_for_once(
        sendwatch, site, watch):
    site.set("/blip", [Reply(b"oops", status=500), Reply(html("Blip"))])
    site.set("/busy", [Reply(b"busy", status=503, headers={"Retry-After": "1"}), Reply(html("Busy"))])
    site.set("/hang", Reply(hang=True))
    site.page("/fine", html("Fine"))
    watch("/blip", "/busy", "/hang", "/fine", retries=2)

    result = sendwatch("check")
    assert result.code == 0, result.err
    assert outcomes(result.out) == {"blip": "first", "busy": "first", "hang": "failed", "fine": "first"}, result.out
    assert "timed out (read)" in result.out

    # The hang cost one wait of read_timeout, not one per retry.
    assert len(site.hits("/hang")) == 1
    # Each failed page was asked again only once every page had had its first answer,
    # the hung one's included: a failure never kept another page from its turn.
    (hang_asked,) = site.hit_times("/hang")
    for path in ("/blip", "/busy"):
        first, second = site.hit_times(path)
        assert second >= hang_asked + READ_TIMEOUT - 0.1, path
    # The 503 was asked again no sooner than its Retry-After.
    first, second = site.hit_times("/busy")
    assert second - first >= 1.0 - 0.05


def test_a_failure_that_persists_is_tried_retries_times_then_fails_and_loses_nothing(sendwatch, site, watch):
    site.page("/code", html("Code"))
    watch("/code", retries=2)
    assert outcomes(sendwatch("check").out) == {"code": "first"}

    site.set("/code", Reply(b"oops", status=500))
    result = sendwatch("check")
    assert outcomes(result.out) == {"code": "failed"} and "HTTP 500" in result.out
    assert len(site.hits("/code")) == 1 + 3  # the first check, then three reads in all
    sources = json.loads(sendwatch("sources", "--json").out)
    assert sources[0]["consecutive_failures"] == 1  # one check failed, however many reads it took
    assert json.loads(sendwatch("changes", "--json").out) == []

    site.page("/code", html("Code"))  # back, as it was: not a change
    assert outcomes(sendwatch("check").out) == {"code": "unchanged"}
    assert json.loads(sendwatch("changes", "--json").out) == []


def test_retries_keep_to_the_per_host_limits(sendwatch, site, watch):
    # One request at a time to the host, however many pages fail and are asked again.
    lock = threading.Lock()
    load = {"now": 0, "max": 0}

    def counted(body: bytes):
        def answer() -> bytes:
            with lock:
                load["now"] += 1
                load["max"] = max(load["max"], load["now"])
            time.sleep(0.02)  # hold the request open so that overlap would be visible
            with lock:
                load["now"] -= 1
            return body
        return answer

    paths = [f"/p{n}" for n in range(6)]
    for n, path in enumerate(paths):
        ok = Reply(counted(html(f"Page {n}")))
        site.set(path, [Reply(counted(b"oops"), status=502), ok] if n % 2 else ok)
    # A delay long beside the jitter of a loaded machine: arrivals seen by the server can be
    # a few tens of ms closer than the client spaced its requests (0.0399 s against 0.04 once).
    watch(*paths, retries=1, per_host_concurrency=1, per_host_delay=0.2)

    result = sendwatch("check")
    assert set(outcomes(result.out).values()) == {"first"}, result.out
    assert load["max"] == 1
    assert len(site.requests) == 6 + 3
    gaps = [b - a for a, b in zip(site.arrived, site.arrived[1:], strict=False)]
    assert min(gaps) >= 0.2 - 0.05  # the per-host delay held for the retries too


def test_a_timeout_is_not_read_again_even_with_retries_to_spare(sendwatch, site, watch):
    site.set("/hang", Reply(hang=True))
    watch("/hang", retries=3)
    result = sendwatch("check")
    assert outcomes(result.out) == {"hang": "failed"}
    assert len(site.hits("/hang")) == 1
