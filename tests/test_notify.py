"""Who is told what, and when digests fall due (pure, with an explicit clock)."""

from datetime import UTC, datetime

from config.settings import OperatorSettings, RecipientSettings, Settings, SourceSettings
from monitor.core.notify import digest_slot, for_commitment, for_delivery_failure, for_source_health

LONDON = "Europe/London"


def slot(mode: str, now: str, **kwargs) -> datetime | None:
    recipient = RecipientSettings(email="r@example.org", mode=mode, **kwargs)
    return digest_slot(recipient, datetime.fromisoformat(now), LONDON)


def test_a_daily_digest_is_due_from_its_time_in_london():
    # 07:30 BST is 06:30 UTC: before 08:00 the latest slot is yesterday's.
    assert slot("daily", "2026-06-10T06:30:00+00:00") == datetime(2026, 6, 9, 7, 0, tzinfo=UTC)
    assert slot("daily", "2026-06-10T07:00:00+00:00") == datetime(2026, 6, 10, 7, 0, tzinfo=UTC)
    assert slot("daily", "2026-01-10T08:00:00+00:00") == datetime(2026, 1, 10, 8, 0, tzinfo=UTC)  # GMT


def test_a_weekly_digest_is_due_on_its_day():
    # Wednesday 10 June 2026; the digest goes out on Fridays at 16:00 London time.
    kwargs = {"weekday": "friday", "at": "16:00"}
    assert slot("weekly", "2026-06-10T12:00:00+00:00", **kwargs) == datetime(2026, 6, 5, 15, 0, tzinfo=UTC)
    assert slot("weekly", "2026-06-12T14:59:00+00:00", **kwargs) == datetime(2026, 6, 5, 15, 0, tzinfo=UTC)
    assert slot("weekly", "2026-06-12T15:00:00+00:00", **kwargs) == datetime(2026, 6, 12, 15, 0, tzinfo=UTC)
    assert slot("each", "2026-06-12T15:00:00+00:00") is None


def settings_with(*recipients: RecipientSettings) -> Settings:
    return Settings(recipients=recipients)


def test_developments_go_to_subscribers_held_for_digest_readers():
    settings = settings_with(RecipientSettings(email="all@example.org"),
                             RecipientSettings(email="code@example.org", commitments=("code-of-practice",),
                                               mode="daily"),
                             RecipientSettings(email="review@example.org", commitments=("send-review",)))
    drafts = for_commitment(settings, "development", "code-of-practice")
    assert [(d.recipient, d.held) for d in drafts] == [("all@example.org", False), ("code@example.org", True)]


def test_source_health_is_told_once_each_way_to_operators_not_subscribers():
    settings = Settings(recipients=(RecipientSettings(email="a@example.org"),),
                        operators=(OperatorSettings(email="ops@example.org"),))
    source = SourceSettings(id="s", url="https://www.gov.uk/x")
    threshold = settings.email.broken_after
    assert for_source_health(settings, source, threshold - 2, failed=True) == ()
    (broken,) = for_source_health(settings, source, threshold - 1, failed=True, error="HTTP 500")
    assert broken.kind == "source-broken" and broken.payload["error"] == "HTTP 500"
    assert broken.recipient == "ops@example.org"
    assert for_source_health(settings, source, threshold, failed=True) == ()  # not one per failure
    (recovered,) = for_source_health(settings, source, threshold + 3, failed=False)
    assert recovered.kind == "source-recovered"
    assert for_source_health(settings, source, 0, failed=False) == ()


def test_without_operators_nobody_is_told_of_a_broken_source():
    settings = settings_with(RecipientSettings(email="a@example.org"))
    source = SourceSettings(id="s", url="https://www.gov.uk/x")
    assert for_source_health(settings, source, settings.email.broken_after - 1, failed=True) == ()


def test_a_delivery_failure_is_told_to_each_operator_but_never_about_a_notice_or_a_test():
    settings = Settings(operators=(OperatorSettings(email="ops@example.org"), OperatorSettings(email="b@example.org")))
    drafts = for_delivery_failure(settings, "gone@example.org", "development", "550 no such user")
    assert [(d.recipient, d.kind, d.payload["recipient"]) for d in drafts] == [
        ("ops@example.org", "delivery-failed", "gone@example.org"),
        ("b@example.org", "delivery-failed", "gone@example.org")]
    assert for_delivery_failure(settings, "ops@example.org", "delivery-failed", "550") == ()
    assert for_delivery_failure(settings, "x@example.org", "test", "550") == ()


def test_a_bounced_confirmation_or_link_does_not_tell_the_operators():
    settings = Settings(operators=(OperatorSettings(email="ops@example.org"),))
    assert for_delivery_failure(settings, "stranger@example.org", "confirm", "550") == ()
    assert for_delivery_failure(settings, "stranger@example.org", "manage-link", "550") == ()
