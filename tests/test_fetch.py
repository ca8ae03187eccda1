"""The fetcher against a real HTTP server on 127.0.0.1: politeness and every way a
response can go wrong. Nothing here mocks httpx."""

import asyncio
import gzip
import re
import threading
import time
import tracemalloc
import zlib

import pytest

from config import FetchSettings
from monitor.core.errors import FetchError
from monitor.sources.fetch import Fetcher, Validators, parse_retry_after, retry_delay
from tests.conftest import Reply

FAST = FetchSettings(contact="alerts@example.org", per_host_delay=0, retries=0, backoff=0.01,
                     connect_timeout=2, read_timeout=1, total_timeout=3)


def record(sleeps):
    """A sleep that only notes how long it was asked to wait."""
    async def sleep(seconds):
        sleeps.append(seconds)
    return sleep


def fetch(url, settings=FAST, validators=None, sleeps=None):
    async def go():
        kwargs = {"sleep": record(sleeps)} if sleeps is not None else {}
        async with Fetcher(settings, **kwargs) as fetcher:
            return await fetcher.get(url, validators=validators)

    return asyncio.run(go())


def test_identifies_itself_with_the_contact_address(site):
    site.page("/p", "<html><body><p>hi</p></body></html>")
    response = fetch(site.url("/p"))
    assert response.status == 200 and response.body.startswith(b"<html>")
    from importlib.metadata import version

    assert site.hits("/p")[0]["user-agent"].startswith(f"sendwatch/{version('sendwatch')} ")  # the installed one
    assert "alerts@example.org" in site.hits("/p")[0]["user-agent"]


def test_server_error_fails_with_the_status(site):
    site.set("/p", Reply(b"oops", status=500))
    with pytest.raises(FetchError, match="HTTP 500"):
        fetch(site.url("/p"))


def failure(url, settings=FAST, sleeps=None) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(url, settings, sleeps=sleeps)
    return caught.value


def test_a_transient_error_is_asked_once_and_tried_again_later_with_backoff(site):
    site.set("/p", [Reply(b"oops", status=502), Reply(b"<html>ok</html>")])
    settings = FAST.model_copy(update={"retries": 2, "backoff": 1.0})
    error = failure(site.url("/p"), settings)
    assert error.transient and error.status == 502
    assert len(site.hits("/p")) == 1  # the fetcher does not wait and ask again: its caller decides when
    assert 0.9 <= retry_delay(error, 1, settings) <= 1.1
    assert 1.8 <= retry_delay(error, 2, settings) <= 2.2  # doubling
    assert retry_delay(error, 3, settings) is None  # retries = 2: three reads in all


def test_a_503_asks_for_its_page_to_wait_not_for_the_whole_host(site):
    site.set("/busy", Reply(b"busy", status=503, headers={"Retry-After": "7"}))
    site.page("/other", "<html>ok</html>")
    settings = FAST.model_copy(update={"retries": 2})
    sleeps = []

    async def go():
        async with Fetcher(settings, sleep=record(sleeps)) as fetcher:
            with pytest.raises(FetchError) as caught:
                await fetcher.get(site.url("/busy"))
            await fetcher.get(site.url("/other"))
            return caught.value

    error = asyncio.run(go())
    assert error.transient and error.retry_after == 7
    assert retry_delay(error, 1, settings) == 7  # the page is read again after what it asked for
    assert sleeps == []  # the rest of the host was not kept waiting


def test_a_429_holds_every_request_to_the_host_for_its_retry_after(site):
    site.set("/p", Reply(b"slow down", status=429, headers={"Retry-After": "7"}))
    site.page("/other", "<html>ok</html>")
    sleeps = []

    async def go():
        async with Fetcher(FAST, sleep=record(sleeps)) as fetcher:
            with pytest.raises(FetchError):
                await fetcher.get(site.url("/p"))
            await fetcher.get(site.url("/other"))

    asyncio.run(go())
    assert sleeps == [pytest.approx(7.0, abs=0.5)]  # by the host's gate: we were asking too often


def test_429_asking_for_too_long_a_wait_fails_and_says_so(site):
    site.set("/p", Reply(b"slow down", status=429, headers={"Retry-After": "3600"}))
    settings = FAST.model_copy(update={"retries": 2})
    error = failure(site.url("/p"), settings, sleeps=[])
    assert "asks to wait 3600 s" in str(error)
    assert error.status == 429 and error.retry_after == 3600
    assert retry_delay(error, 1, settings) is None  # not within this check


def test_404_is_not_retried(site):
    settings = FAST.model_copy(update={"retries": 3})
    error = failure(site.url("/missing"), settings, sleeps=[])
    assert "HTTP 404" in str(error) and retry_delay(error, 1, settings) is None
    assert len(site.hits("/missing")) == 1


def test_a_hung_server_times_out_and_is_not_waited_for_again(site):
    site.set("/p", Reply(hang=True))
    settings = FAST.model_copy(update={"read_timeout": 0.3, "retries": 3})
    error = failure(site.url("/p"), settings)
    assert "timed out" in str(error)
    assert retry_delay(error, 1, settings) is None  # another try would wait as long again
    assert len(site.hits("/p")) == 1


def test_a_truncated_body_is_a_failure_worth_another_try(site):
    site.set("/p", Reply(b"<html><body>" + b"x" * 5000 + b"</body></html>", truncate_to=100))
    error = failure(site.url("/p"))
    assert "incomplete" in str(error) and error.transient


def test_redirects_are_followed_within_a_bound(site):
    site.set("/old", Reply(status=301, headers={"Location": "/new"}))
    site.page("/new", "<html>moved</html>")
    assert fetch(site.url("/old")).url == site.url("/new")
    for n in range(10):
        site.set(f"/r{n}", Reply(status=302, headers={"Location": f"/r{n + 1}"}))
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch(site.url("/r0"))


def test_a_redirect_loop_is_named(site):
    site.set("/a", Reply(status=302, headers={"Location": "/b"}))
    site.set("/b", Reply(status=302, headers={"Location": "/a"}))
    with pytest.raises(FetchError, match="redirect loop"):
        fetch(site.url("/a"))


def test_only_http_and_https(site):
    site.set("/a", Reply(status=302, headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(FetchError, match="only http and https"):
        fetch(site.url("/a"))


@pytest.mark.parametrize(("location", "reason"), [
    ("javascript:alert(1)", "refusing to fetch 'javascript:alert(1)': only http and https are allowed"),
    (" JavaScript:void(0)", "refusing to fetch 'JavaScript:void(0)': only http and https are allowed"),
    ("data:text/html,hi", "only http and https are allowed"),
    ("http://[::1", "refusing to follow a redirect to 'http://[::1': Invalid IPv6 URL"),
    ("http://127.0.0.1:99999/", "not a usable URL (Port out of range"),
])
def test_a_redirect_to_something_unfetchable_is_refused_with_the_reason(site, location, reason):
    site.set("/a", Reply(status=302, headers={"Location": location}))
    with pytest.raises(FetchError, match=re.escape(reason)) as caught:
        fetch(site.url("/a"), FAST.model_copy(update={"retries": 2}), sleeps=[])
    assert not caught.value.transient  # a refusal, not a transient error worth retrying
    assert len(site.hits("/a")) == 1


def test_a_body_over_the_cap_is_refused(site):
    site.page("/big", "<html>" + "x" * 5000 + "</html>")
    with pytest.raises(FetchError, match="over the 1,000-byte cap"):
        fetch(site.url("/big"), FAST.model_copy(update={"max_bytes": 1000}))


def test_the_cap_applies_after_decompression(site):
    bomb = b"<html>" + b" " * 200_000 + b"</html>"
    site.set("/bomb", Reply(bomb, gzip=True))
    assert len(gzip.compress(bomb)) < 1000
    with pytest.raises(FetchError, match="cap"):
        fetch(site.url("/bomb"), FAST.model_copy(update={"max_bytes": 10_000}))
    site.set("/ok", Reply(b"<html>small</html>", gzip=True))
    assert fetch(site.url("/ok")).body == b"<html>small</html>"


@pytest.mark.parametrize("encoding", ["gzip, gzip", "gzip,gzip,gzip", "deflate, gzip"])
def test_stacked_compression_cannot_get_past_the_cap(site, encoding):
    layers = [e.strip() for e in encoding.split(",")]
    body = b"<html>" + b" " * 64_000_000 + b"</html>"
    for layer in layers:
        body = gzip.compress(body) if layer == "gzip" else zlib.compress(body)
    assert len(body) < 1000  # 64 MB of spaces, compressed two or three times
    site.set("/bomb", Reply(body, headers={"Content-Encoding": encoding}))
    cap = 1_000_000

    async def go():
        async with Fetcher(FAST.model_copy(update={"max_bytes": cap})) as fetcher:
            tracemalloc.start()
            try:
                with pytest.raises(FetchError, match="over the 1,000,000-byte cap") as caught:
                    await fetcher.get(site.url("/bomb"))
                return caught.value, tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

    error, peak = asyncio.run(go())
    assert "cap (max_bytes)" in str(error)
    # Decoding stops within a few times the cap; decoding whole layers took 64 MB or more.
    assert peak < 8 * cap, f"peak {peak:,} bytes"


def test_an_error_response_in_stacked_compression_is_read_only_as_far_as_its_explanation(site):
    body = gzip.compress(gzip.compress(b'{"message": "bad filter"' + b" " * 64_000_000 + b"}"))
    site.set("/api", Reply(body, status=422, content_type="application/json",
                           headers={"Content-Encoding": "gzip, gzip"}))

    async def go():
        async with Fetcher(FAST) as fetcher:
            tracemalloc.start()
            try:
                with pytest.raises(FetchError, match="HTTP 422") as caught:
                    await fetcher.get(site.url("/api"))
                return caught.value, tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

    error, peak = asyncio.run(go())
    assert error.body.startswith(b'{"message": "bad filter"') and len(error.body) <= 65536
    assert peak < 2_000_000, f"peak {peak:,} bytes"


def test_an_encoding_sendwatch_does_not_ask_for_is_refused_by_name(site):
    site.set("/br", Reply(b"\x1b\x00\x00", headers={"Content-Encoding": "br"}))
    with pytest.raises(FetchError, match="cannot be decompressed: .*Content-Encoding 'br'"):
        fetch(site.url("/br"))


def test_conditional_requests_use_the_validators(site):
    site.set("/p", [Reply(b"<html>v1</html>", headers={"ETag": '"v1"'}), Reply(status=304, content_type=None)])
    first = fetch(site.url("/p"))
    assert first.validators == Validators('"v1"', None)
    second = fetch(site.url("/p"), validators=first.validators)
    assert second.not_modified
    assert site.hits("/p")[1]["if-none-match"] == '"v1"'


def test_per_host_concurrency_and_delay_are_respected(site):
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def body():
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)  # hold the request open so that overlap would be visible
        with lock:
            state["now"] -= 1
        return b"<html>ok</html>"

    for n in range(6):
        site.set(f"/p{n}", Reply(body))
    settings = FAST.model_copy(update={"per_host_concurrency": 2, "per_host_delay": 0.1})
    sent = []

    async def on_request(request):
        sent.append(time.monotonic())

    async def go():
        async with Fetcher(settings) as fetcher:
            # When each request leaves the client: the server's own clock would add its
            # thread start-up and connection set-up to the gaps.
            fetcher._client.event_hooks["request"].append(on_request)
            await asyncio.gather(*(fetcher.get(site.url(f"/p{n}")) for n in range(6)))

    asyncio.run(go())
    assert state["max"] <= 2
    assert len(sent) == 6
    assert all(b - a >= 0.09 for a, b in zip(sent, sent[1:], strict=False))


def test_retry_after_parses_seconds_and_dates():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert parse_retry_after("soon") is None


def test_an_api_error_carries_the_apis_own_message(site):
    site.set("/api/search.json", Reply(b'{"error": "Query contains unknown parameter: \\"filter_nonsense\\""}',
                                       status=422, content_type="application/json"))
    with pytest.raises(FetchError) as caught:
        fetch(site.url("/api/search.json"))
    assert str(caught.value).startswith("HTTP 422")
    assert 'Query contains unknown parameter: "filter_nonsense"' in str(caught.value)
    assert caught.value.status == 422


def test_per_host_limits_can_be_overridden_and_govuk_has_a_default():
    settings = FetchSettings(per_host_concurrency=2, per_host_delay=1.0,
                             hosts={"127.0.0.1": {"concurrency": 8, "delay": 0}})
    assert settings.limits_for("127.0.0.1") == (8, 0)
    assert settings.limits_for("example.org") == (2, 1.0)
    assert FetchSettings().limits_for("www.gov.uk") == (4, 0.1)  # at most 10 requests a second
