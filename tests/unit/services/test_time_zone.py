"""The tenant's time zone on the fakes: KPI days, KPI periods, segment windows, nurture cadences,
the dates printed in mails (issue 17 point 4)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain import nurture, segments
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.person import Person, Track
from tests.unit.services.support import SETTINGS, deliver, drain, message, outbox

REJECTED_AT = "2025-12-01T16:00:00Z"  # 2 December, 01:00 in Tokyo


def test_a_rejection_at_16_utc_on_1_december_counts_on_2_december_for_an_asia_tokyo_tenant(services, acme):
    assert services.configuration.tenant_settings("acme").zone == "Asia/Tokyo"  # ja: the default
    deliver(services, message("candidate.rejected", REJECTED_AT))

    answer = services.kpis.kpis("acme", "2025-12-01", "2025-12-02")

    by_day = {day["date"]: day["people"]["rejected"] for day in answer["series"]}
    assert by_day == {"2025-12-01": 0, "2025-12-02": 1}
    assert services.kpis.kpis("acme", "2025-12-01", "2025-12-01")["current"]["people"]["rejected"] == 0


def test_a_utc_tenant_counts_the_same_rejection_on_1_december(services, acme):
    services.configuration.put_settings("acme", {**SETTINGS, "time_zone": "UTC"})
    deliver(services, message("candidate.rejected", REJECTED_AT))

    by_day = {day["date"]: day["people"]["rejected"] for day in services.kpis.kpis("acme", "2025-12-01", "2025-12-02")["series"]}
    assert by_day == {"2025-12-01": 1, "2025-12-02": 0}


def test_the_default_kpi_period_ends_on_the_tenants_local_today(services, acme, clock):
    clock.set(datetime(2026, 6, 1, 16, tzinfo=UTC))  # 2 June, 01:00 in Tokyo
    assert services.kpis.kpis("acme", None, None)["to"] == "2026-06-02"
    assert services.kpis.publish_kpis("acme")["date"] == "2026-06-02"


def test_settings_take_a_time_zone_and_refuse_an_unknown_one(services, acme):
    assert services.configuration.put_settings("acme", {**SETTINGS, "time_zone": "Europe/Berlin"})["time_zone"] == "Europe/Berlin"
    assert services.configuration.put_settings("acme", {**SETTINGS, "default_locale": "en"})["time_zone"] == "UTC"
    with pytest.raises(BadRequest, match="time_zone"):
        services.configuration.put_settings("acme", {**SETTINGS, "time_zone": "Asia/Atlantis"})


def test_the_link_expiry_in_a_mail_is_the_tenants_local_date(services, acme, clock):
    clock.set(datetime(2026, 6, 1, 16, tzinfo=UTC))  # 2 June in Tokyo
    services.configuration.put_template("acme", "rejection", "ja", {
        "subject": "選考結果", "text": "{{ relay_link }} 有効期限 {{ link_expires_on }}（{{ link_expires_on | wareki }}）"})
    deliver(services, message("candidate.rejected", "2026-06-01T15:59:00Z"))
    clock.set(datetime(2026, 6, 1, 16, 10, tzinfo=UTC))
    drain(services)

    [mail] = outbox(services)
    assert "有効期限 2026-" in mail.text and "令和8年" in mail.text
    shown = mail.text.split("有効期限 ")[1][:10]
    assert shown > "2026-06-01" and f"令和8年{int(shown[5:7])}月{int(shown[8:10])}日" in mail.text


def person(at: str) -> Person:
    return Person(tenant="acme", person_id="p1", tracks={"app:greenhouse:1": Track(status="rejected", at=at)})


def test_segment_windows_start_at_the_tenants_local_midnight():
    now = datetime(2026, 12, 2, 1, tzinfo=UTC)  # 2 December, 10:00 in Tokyo
    window = segments.parse("role:rejected AND rejected_within:1d")
    # 30 November 15:30 UTC is 1 December 00:30 in Tokyo: within a day (since 1 December, local midnight)
    assert window.matches(person("2026-11-30T15:30:00.000000Z"), now, "Asia/Tokyo")
    assert not window.matches(person("2026-11-30T14:30:00.000000Z"), now, "Asia/Tokyo")
    literal = segments.parse("role:rejected AND rejected_after:2026-12-01")
    assert literal.matches(person("2026-11-30T15:30:00.000000Z"), now, "Asia/Tokyo")
    assert not literal.matches(person("2026-11-30T15:30:00.000000Z"), now, "UTC")


def test_nurture_cadences_count_local_days():
    after = nurture.Cadence(anchor="rejection", days=1)
    rejected = person("2026-03-07T17:00:00.000000Z")  # 12:00 in New York, the day before clocks go forward
    assert nurture.occurrence(rejected, after, last_done=None, enrolled_at="2026-03-07T18:00:00.000000Z",
                              zone="America/New_York") == "2026-03-08T16:00:00.000000Z"  # 12:00 local, 23 h later
    yearly = nurture.Cadence(anchor="rejection", days=None, yearly=True)
    leap = person("2024-02-28T15:30:00.000000Z")  # 29 February 2024, 00:30 in Tokyo
    assert nurture.occurrence(leap, yearly, last_done=None, enrolled_at="2024-03-01T00:00:00.000000Z",
                              zone="Asia/Tokyo") == "2025-02-27T15:30:00.000000Z"  # 28 February 2025, 00:30 in Tokyo
