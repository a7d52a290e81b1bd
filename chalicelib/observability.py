"""Logs and metrics (Powertools), applied to Chalice as middleware, and a correlation id per request.

Log lines carry structured keys (tenant, source, counts, error codes), never names, e-mail
addresses, phone numbers or bodies.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

from chalice import Chalice, ConvertToMiddleware

SERVICE = "relations-hub"


class _OnFirstUse:
    """Powertools' Logger or Metrics, built when first used: `import app` stays close to `import
    chalice` (Powertools' imports are about a third of the rest), and behaves the same after."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._built = None

    def __getattr__(self, name: str) -> Any:
        if self._built is None:
            self._built = self._build()
        return getattr(self._built, name)


def _logger():
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE)


def _metrics():
    from aws_lambda_powertools import Metrics

    return Metrics(namespace="RelationsHub", service=SERVICE)


logger: Any = _OnFirstUse(_logger)
metrics: Any = _OnFirstUse(_metrics)


class MetricUnit:
    """The CloudWatch units the hub uses, by the names Powertools accepts."""

    Count = "Count"


def source_failing(source: str) -> None:
    """The metric SourceFailing, dimension `source` (the vendor's slug: never a tenant or a person),
    one per poll whose credentials the vendor refused."""
    by_source("SourceFailing", source)


def by_source(name: str, source: str) -> None:
    """One count of the metric `name` with the dimension `source` (a vendor's slug: never a tenant or
    a person). Its own EMF line, so the dimension does not spread to the invocation's other metrics."""
    from aws_lambda_powertools.metrics import single_metric

    with single_metric(name=name, unit="Count", value=1, namespace="RelationsHub",
                       default_dimensions={"service": SERVICE}) as metric:
        metric.add_dimension(name="source", value=source)


__all__ = ["logger", "metrics", "MetricUnit", "register", "source_failing", "by_source"]

# An invocation that counts nothing (a health check, a page view, a quiet schedule) is normal, not a
# fault: Powertools' "No application metrics to publish" warning would be a line per such invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

# The AWS SDK and PynamoDB print request and response bodies (personal data) at DEBUG: never let them.
for _noisy in ("botocore", "boto3", "pynamodb", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


def _on_first_event(decorator: Callable[[], Any]) -> Callable:
    """A Powertools handler decorator as Chalice middleware (ConvertToMiddleware), made on the first event."""
    made: list[ConvertToMiddleware] = []

    def middleware(event: Any, get_response: Callable) -> Any:
        if not made:
            made.append(ConvertToMiddleware(decorator()))
        return made[0](event, get_response)

    return middleware


def _new_id() -> str:
    import uuid  # with its platform probe, on first use

    return str(uuid.uuid4())


def register(app: Chalice) -> None:
    app.register_middleware(_on_first_event(lambda: logger.inject_lambda_context(clear_state=True)))
    app.register_middleware(_on_first_event(lambda: metrics.log_metrics))

    @app.middleware("http")
    def correlate(event, get_response):
        context = getattr(event, "context", None) or {}
        request_id = context.get("requestId") or _new_id()
        logger.set_correlation_id(request_id)
        logger.append_keys(route=context.get("resourcePath"), method=event.method)
        response = get_response(event)
        response.headers["X-Request-Id"] = request_id
        logger.info("request served", extra={"status": response.status_code})
        return response
