"""e20-sources: the DeliveryLog port on the table. An entry is one item (`log_item`): a new fact's
goes into the intake's transaction (relations.py), the others are one PutItem each, on the request
path or from the deliveries queue (services/deliveries.py); one Query per page; the TTL removes
entries after 14 days."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from chalicelib.adapters.dynamo import reads
from chalicelib.adapters.dynamo.keys_deliveries import delivery_log_pk, delivery_log_sk
from chalicelib.adapters.dynamo.models import DeliveryLogItem
from chalicelib.domain.deliveries import KEEP, Delivery
from chalicelib.domain.events import iso

LAST_PAGE = 25  # entries read to find the newest that is not a test


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _delivery(item: DeliveryLogItem) -> Delivery:
    return Delivery(at=_moment(item.at), outcome=item.outcome, event=item.event, reason=item.reason, test=bool(item.test))


def log_item(tenant: str, source: str, delivery: Delivery, entry: str) -> DeliveryLogItem:
    """The item of one log entry (entry: its name, unique within the moment)."""
    at = iso(delivery.at)
    return DeliveryLogItem(delivery_log_pk(tenant, source), delivery_log_sk(at, entry), at=at, outcome=delivery.outcome,
                           event=delivery.event, reason=delivery.reason, test=delivery.test, expires_at=delivery.at + KEEP)


class DynamoDeliveryLog:
    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock

    def record(self, tenant: str, source: str, delivery: Delivery, *, entry: str | None = None) -> bool:
        from chalicelib.observability import logger

        try:
            log_item(tenant, source, delivery, entry or secrets.token_hex(4)).save()  # the same entry: overwritten
        except Exception as error:  # noqa: BLE001 - the log never fails a delivery
            logger.warning("delivery log not written", extra={"error": type(error).__name__})
            return False
        return True

    def entries(self, tenant: str, source: str, *, limit: int,
                before: str | None) -> tuple[list[Delivery], str | None]:
        pk = delivery_log_pk(tenant, source)
        start = {"pk": {"S": pk}, "sk": {"S": before}} if before else None
        page = DeliveryLogItem.query(pk, scan_index_forward=False, limit=limit, page_size=limit, last_evaluated_key=start)
        found = [_delivery(item) for item in page]
        more = page.last_evaluated_key is not None and len(found) == limit
        return found, (page.last_evaluated_key["sk"]["S"] if more and page.last_evaluated_key else None)

    def last(self, tenant: str, source: str) -> Delivery | None:
        now = self._clock()
        for item in DeliveryLogItem.query(delivery_log_pk(tenant, source), scan_index_forward=False,
                                          limit=LAST_PAGE, page_size=LAST_PAGE):
            delivery = _delivery(item)
            if not delivery.test and delivery.at > now - KEEP:  # TTL deletes late
                return delivery
        return None
