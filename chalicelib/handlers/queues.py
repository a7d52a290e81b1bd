"""SQS consumers. Each record is processed on its own; failures are reported per record
(ReportBatchItemFailures), so SQS redelivers only those, then parks them in the dead-letter queue."""
from __future__ import annotations

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import wiring
from chalicelib.domain.errors import HubError
from chalicelib.domain.events import Lookup
from chalicelib.observability import MetricUnit, logger, metrics

_processor = BatchProcessor(event_type=EventType.SQS)


def _enrich_one(record: SQSRecord) -> None:
    lookup = Lookup.from_json(json.loads(record.body))
    logger.append_keys(tenant=lookup.tenant, source=lookup.source, resource=lookup.resource)
    try:
        new = wiring.hub().enrich(lookup)
    except HubError as error:
        logger.warning("enrichment failed; the queue will retry", extra={"error": error.code, "detail": error.message})
        metrics.add_metric(name="EnrichmentFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="EventsRecorded", unit=MetricUnit.Count, value=new)


def enrich_batch(event: dict, context) -> dict:
    return process_partial_response(event=event, record_handler=_enrich_one, processor=_processor, context=context)


def _notify_one(record: SQSRecord) -> None:
    message = json.loads(record.body)
    logger.append_keys(tenant=message["tenant"])
    try:
        if "campaign" in message:  # a due nurture mail (the nurture job queues them here too)
            outcome = wiring.hub().send_nurture(message["tenant"], message["person_id"], message["campaign"], message["due"])
        else:
            outcome = wiring.hub().send_notice(message["tenant"], message["person_id"], message["notice"])
    except HubError as error:
        logger.warning("notice not sent; the queue will retry", extra={"error": error.code, "detail": error.message})
        metrics.add_metric(name="NoticeFailed", unit=MetricUnit.Count, value=1)
        raise
    logger.info("notice handled", extra={"outcome": outcome})
    metrics.add_metric(name="Nurture" + outcome.title().replace("_", "") if "campaign" in message
                       else f"Notice{outcome.capitalize()}", unit=MetricUnit.Count, value=1)


def notices_batch(event: dict, context) -> dict:
    wiring.hub().once.register(context)
    return process_partial_response(event=event, record_handler=_notify_one, processor=_processor, context=context)


def mail_feedback(message: str) -> int:
    """An SNS message from SES (bounce, complaint, delivery); malformed ones are logged and dropped."""
    try:
        notification = json.loads(message)
    except ValueError:
        logger.warning("SES feedback is not JSON; dropped")
        return 0
    suppressed = wiring.hub().mail_feedback(notification if isinstance(notification, dict) else {})
    if suppressed:
        logger.info("addresses suppressed", extra={"count": suppressed})
        metrics.add_metric(name="AddressesSuppressed", unit=MetricUnit.Count, value=suppressed)
    return suppressed
