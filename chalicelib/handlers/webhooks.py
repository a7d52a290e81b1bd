"""POST /webhooks/{tenant}/{source}: a vendor delivery in, 202 out, quickly."""
from __future__ import annotations

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.errors import HubError, PermanentError, Unstorable, Unverified
from chalicelib.handlers.http import api, json_response
from chalicelib.observability import MetricUnit, by_source, logger, metrics


@api
def receive(request: Request, tenant: str, source: str) -> Response:
    logger.append_keys(tenant=tenant, source=source)
    try:
        # e20-sources: through the delivery log (one PutItem: the outcome, never the body)
        receipt = wiring.hub().deliveries.receive(tenant, source, dict(request.headers), request.raw_body or b"")
    except Unverified as refused:  # the answer is the same for every reason; the log says which
        logger.info("webhook not verified", extra={"reason": refused.reason, "detail": refused.detail})
        by_source("DeliveryRefused", _known(source))
        raise
    except PermanentError as refused:  # storage refused the data (or a partner its request): a retry cannot help
        by_source("DeliveryRefused", _known(source))
        if refused.status < 500:
            raise
        logger.warning("webhook not storable", extra={"error": refused.code, "detail": refused.message})
        raise Unstorable("the delivery was understood but cannot be stored; sending it again will not help") from None
    except HubError:
        by_source("DeliveryRefused", _known(source))
        raise
    metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
    by_source("DeliveryAccepted", source)
    metrics.add_metric(name="EventsRecorded", unit=MetricUnit.Count, value=receipt.accepted - receipt.duplicates)
    logger.info("webhook accepted", extra=receipt.to_json())
    answer: dict[str, object] = dict(receipt.to_json())
    links = wiring.hub().writeback.delivered(tenant, source, receipt.facts)  # the ats_field delivery (services/writeback.py)
    if links:
        answer["links"] = links
    return json_response(answer, 202)


def _known(source: str) -> str:
    """The source's slug when the hub knows it, else "unknown": the path is the caller's, and a
    dimension per made-up name would be a metric per name."""
    from integrations.registry import LOCAL_SOURCES

    return source if source in LOCAL_SOURCES else "unknown"
