"""Scheduled jobs: each runs for every tenant and reports what it did in the logs and metrics."""
from __future__ import annotations

from chalicelib import wiring
from chalicelib.observability import MetricUnit, logger, metrics


def poll_sources() -> list[dict]:
    reports = [r.to_json() for r in wiring.hub().poll_due_sources()]
    for report in reports:
        logger.info("source polled", extra=report)
        metrics.add_metric(name="PolledEvents", unit=MetricUnit.Count, value=report["new"])
    return reports
