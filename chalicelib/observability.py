"""Logs and metrics (Powertools), applied to Chalice as middleware, and a correlation id per request.

Log lines carry structured keys (tenant, source, counts, error codes), never names, e-mail
addresses, phone numbers or bodies.
"""
from __future__ import annotations

import logging
import uuid

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from chalice import Chalice, ConvertToMiddleware

SERVICE = "relations-hub"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="RelationsHub", service=SERVICE)

__all__ = ["logger", "metrics", "MetricUnit", "register"]

# The AWS SDK and PynamoDB print request and response bodies (personal data) at DEBUG: never let them.
for _noisy in ("botocore", "boto3", "pynamodb", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


def register(app: Chalice) -> None:
    app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))
    app.register_middleware(ConvertToMiddleware(metrics.log_metrics))

    @app.middleware("http")
    def correlate(event, get_response):
        context = getattr(event, "context", None) or {}
        request_id = context.get("requestId") or str(uuid.uuid4())
        logger.set_correlation_id(request_id)
        logger.append_keys(route=context.get("resourcePath"), method=event.method)
        response = get_response(event)
        response.headers["X-Request-Id"] = request_id
        logger.info("request served", extra={"status": response.status_code})
        return response
