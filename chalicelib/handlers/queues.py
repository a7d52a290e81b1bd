"""SQS consumers. Each record is processed on its own; failures are reported per record
(ReportBatchItemFailures), so SQS redelivers only those, then parks them in the dead-letter queue."""
from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING

from chalicelib import wiring
from chalicelib.domain.errors import HubError
from chalicelib.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


@cache
def _processor():
    # Powertools' batch utility is ~30 ms of imports: loaded with the first batch, not with every route
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
    return BatchProcessor(event_type=EventType.SQS)


def _process(event: dict, record_handler, context) -> dict:
    from aws_lambda_powertools.utilities.batch import process_partial_response
    return process_partial_response(event=event, record_handler=record_handler, processor=_processor(), context=context)


def _enrich_one(record: SQSRecord) -> None:
    from chalicelib.domain.events import Lookup

    lookup = Lookup.from_json(json.loads(record.body))
    logger.append_keys(tenant=lookup.tenant, source=lookup.source, resource=lookup.resource)
    try:
        new = wiring.hub().intake.enrich(lookup)
    except HubError as error:
        logger.warning("enrichment failed; the queue will retry", extra={"error": error.code, "detail": error.message})
        metrics.add_metric(name="EnrichmentFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="EventsRecorded", unit=MetricUnit.Count, value=new)


def enrich_batch(event: dict, context) -> dict:
    wiring.once().register(context)  # a token refresh cut short expires with this invocation
    return _process(event, _enrich_one, context)


def _notify_one(record: SQSRecord) -> None:
    message = json.loads(record.body)
    logger.append_keys(tenant=message["tenant"])
    try:
        if "campaign" in message:  # a due nurture mail (the nurture job queues them here too)
            outcome = wiring.hub().nurture.send_nurture(message["tenant"], message["person_id"], message["campaign"], message["due"])
        else:
            outcome = wiring.hub().correspondence.send_notice(message["tenant"], message["person_id"], message["notice"])
    except HubError as error:
        logger.warning("notice not sent; the queue will retry", extra={"error": error.code, "detail": error.message})
        metrics.add_metric(name="NoticeFailed", unit=MetricUnit.Count, value=1)
        raise
    logger.info("notice handled", extra={"outcome": outcome})
    metrics.add_metric(name="Nurture" + outcome.title().replace("_", "") if "campaign" in message
                       else f"Notice{outcome.capitalize()}", unit=MetricUnit.Count, value=1)


def notices_batch(event: dict, context) -> dict:
    wiring.once().register(context)
    return _process(event, _notify_one, context)


def _write_one(record: SQSRecord) -> None:
    message = json.loads(record.body)
    logger.append_keys(tenant=message.get("tenant"), source=message.get("source"))
    try:
        outcome = wiring.hub().writeback.handle(message)
    except HubError as error:
        logger.warning("ATS field not written; the queue will retry", extra={"error": error.code, "detail": error.message})
        metrics.add_metric(name="AtsFieldFailed", unit=MetricUnit.Count, value=1)
        raise
    logger.info("ATS field write handled", extra={"outcome": outcome})  # ids and outcomes only: never the link
    metrics.add_metric(name="AtsField" + outcome.title().replace("_", ""), unit=MetricUnit.Count, value=1)


def writeback_batch(event: dict, context) -> dict:
    wiring.once().register(context)
    return _process(event, _write_one, context)


def _log_one(record: SQSRecord) -> None:
    message = json.loads(record.body)
    logger.append_keys(tenant=message.get("tenant"), source=message.get("source"))
    try:
        wiring.hub().deliveries.write_queued(message)
    except HubError as error:
        logger.warning("delivery log entry not written; the queue will retry", extra={"error": error.code})
        raise


def deliveries_batch(event: dict, context) -> dict:
    return _process(event, _log_one, context)


def mail_feedback(message: str) -> int:
    """An SNS message from SES (bounce, complaint, delivery); malformed ones are logged and dropped."""
    try:
        notification = json.loads(message)
    except ValueError:
        logger.warning("SES feedback is not JSON; dropped")
        return 0
    suppressed = wiring.hub().correspondence.mail_feedback(notification if isinstance(notification, dict) else {})
    if suppressed:
        logger.info("addresses suppressed", extra={"count": suppressed})
        metrics.add_metric(name="AddressesSuppressed", unit=MetricUnit.Count, value=suppressed)
    return suppressed
