"""Scheduled jobs: each runs for every tenant and reports what it did in the logs and metrics."""
from __future__ import annotations

from chalicelib import wiring
from chalicelib.observability import MetricUnit, logger, metrics, source_failing


def poll_sources(context: object = None) -> list[dict]:
    """Poll every due source. The invocation's context goes to the once-only layer: a token refresh
    cut short by a timeout then expires with the invocation instead of blocking the source."""
    if context is not None:
        wiring.once().register(context)
    reports = []
    for polled in wiring.hub().intake.poll_due_sources():
        report = polled.to_json()
        logger.info("source polled", extra={**report, **({"detail": polled.detail} if polled.detail else {})})
        metrics.add_metric(name="PolledEvents", unit=MetricUnit.Count, value=report["new"])
        if polled.failing:
            source_failing(polled.source)
        reports.append(report)
    return reports


def release_notices() -> int:
    hub = wiring.hub()
    resumed = hub.correspondence.release_waiting()  # notices that waited for a sender verified since: due again
    if resumed:
        logger.info("notices waiting for their sender resumed", extra={"count": resumed})
        metrics.add_metric(name="NoticesResumed", unit=MetricUnit.Count, value=resumed)
    # every run, zero included: the alarm on it reads the latest value (docs/operations.md, SenderUnverifiedAlarm)
    metrics.add_metric(name="SenderUnverified", unit=MetricUnit.Count, value=hub.correspondence.senders_overdue())
    released = hub.intake.release_notices()
    if released:
        logger.info("pending notices released", extra={"count": released})
    metrics.add_metric(name="NoticesReleased", unit=MetricUnit.Count, value=released)
    return released


def send_referrals() -> list[dict]:
    reports = wiring.hub().agencies.run_all_agency_batches()
    for report in reports:
        logger.info("agency batch run", extra=report)
        metrics.add_metric(name="ReferralsSent", unit=MetricUnit.Count, value=report.get("sent", 0))
        if report.get("parked"):
            metrics.add_metric(name="AgencyBatchParked", unit=MetricUnit.Count, value=report["parked"])
        if report.get("status") in ("circuit_open", "paused"):
            metrics.add_metric(name="AgencyCircuitOpen", unit=MetricUnit.Count, value=1)
    return reports


def publish_kpis() -> list[dict]:
    reports = wiring.hub().kpis.publish_all_kpis()
    for report in reports:
        logger.info("KPIs published", extra=report)
    return reports


def run_nurture() -> list[dict]:
    reports = wiring.hub().nurture.run_all_nurture()
    for report in reports:
        logger.info("nurture job run", extra=report)
        metrics.add_metric(name="NurtureQueued", unit=MetricUnit.Count, value=report["queued"])
    return reports


def refresh_ats_links() -> list[dict]:
    """The ats_field links of a new window: a backfill queued per source, once per window."""
    reports = wiring.hub().writeback.refresh_all()
    for report in reports:
        if report["queued"]:
            logger.info("ats_field links refreshed", extra={"tenant": report["tenant"], "sources": report["queued"]})
            metrics.add_metric(name="AtsFieldRefreshes", unit=MetricUnit.Count, value=len(report["queued"]))
    return reports
