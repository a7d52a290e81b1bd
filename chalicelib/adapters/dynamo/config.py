"""A tenant's documents (the Config port): settings, templates, agencies, segments, campaigns and
consent texts, JSON with a version, in the tenant's CONF partition under today's sort keys
(keys.document_sk), so stored documents stay readable."""
from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from chalicelib.adapters.dynamo import keys, reads, zones
from chalicelib.adapters.dynamo.models import ConfigItem
from chalicelib.adapters.dynamo.transaction import conditional
from chalicelib.domain.errors import Conflict
from chalicelib.domain.events import iso
from chalicelib.domain.records import Document, DocumentKind, JsonDict

_WHAT = "the configuration store"
CACHE_S = 10.0  # a document read is reused this long by this container (a notice reads 5 of them, each twice)


class DynamoConfig:
    """Reads are kept CACHE_S seconds per container (a batch of notices reads the same settings,
    routing, template and source delivery for each one); a write through this container forgets
    them at once, other containers see it within CACHE_S. Writes read afresh (their version check)."""

    def __init__(self, *, clock: Callable[[], datetime] = reads.utc_now) -> None:
        self._clock = clock
        self._kept: dict[tuple[str, str], tuple[float, Document | None]] = {}

    def get(self, tenant: str, kind: DocumentKind, name: Sequence[str] = ()) -> Document | None:
        key = (tenant, keys.document_sk(kind, tuple(name)))
        kept = self._kept.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        found = self._read(tenant, kind, name)
        self._kept[key] = (time.monotonic() + CACHE_S, found)
        return found

    def _read(self, tenant: str, kind: DocumentKind, name: Sequence[str] = ()) -> Document | None:
        try:
            item = ConfigItem.get(keys.conf_pk(tenant), keys.document_sk(kind, tuple(name)), consistent_read=True)
        except ConfigItem.DoesNotExist:
            return None
        return Document(data=item.data, version=item.version)

    def list(self, tenant: str, kind: DocumentKind) -> builtins.list[Document]:
        return [Document(data=item.data, version=item.version) for item in ConfigItem.query(
            keys.conf_pk(tenant), ConfigItem.sk.startswith(keys.documents_prefix(kind)), consistent_read=True)]

    # -- issue 18, the admin API's lists: one bounded Query of the tenant's CONF partition a page --
    def page(self, tenant: str, kind: DocumentKind, *, limit: int,
             after: str | None = None) -> tuple[builtins.list[tuple[str, Document]], str | None]:
        prefix = keys.documents_prefix(kind)
        start = {"pk": {"S": keys.conf_pk(tenant)}, "sk": {"S": keys.document_sk(kind, (after,))}} if after else None
        found = ConfigItem.query(keys.conf_pk(tenant), ConfigItem.sk.startswith(prefix), consistent_read=True,
                                 limit=limit, page_size=limit, last_evaluated_key=start)
        named = [(item.sk[len(prefix):], Document(data=item.data, version=item.version)) for item in found]
        more = found.last_evaluated_key is not None and len(named) == limit
        return named, (named[-1][0] if more else None)

    def put(self, tenant: str, kind: DocumentKind, name: Sequence[str], data: JsonDict, *,
            expected_version: int | None = None) -> int:
        """Store a document; with expected_version, only if nobody changed it since (Conflict otherwise)."""
        sk = keys.document_sk(kind, tuple(name))
        self._kept.pop((tenant, sk), None)
        current = self._read(tenant, kind, name)
        item = ConfigItem(keys.conf_pk(tenant), sk, data=data, updated_at=iso(self._clock()))
        label = " ".join((kind, *name))
        if current is not None:
            if expected_version is not None and expected_version != current.version:
                raise Conflict(f"the {label} changed since version {expected_version} (now {current.version})")
            item.version = current.version
        saved = conditional(item.save, _WHAT)  # PynamoDB conditions the put on the version read
        self._kept.pop((tenant, sk), None)
        if not saved:
            raise Conflict(f"the {label} was changed at the same time; read it again")
        if kind == "settings":
            zones.forget(tenant)  # the counters of this container follow a new time zone at once
        version: int = item.version
        return version

    def put_once(self, tenant: str, kind: DocumentKind, name: Sequence[str], data: JsonDict) -> None:
        """Store a document that never changes (a consent text by its version); a repeat keeps the first."""
        item = ConfigItem(keys.conf_pk(tenant), keys.document_sk(kind, tuple(name)), data=data, updated_at=iso(self._clock()))
        conditional(item.save, _WHAT)  # a new item: PynamoDB conditions the put on its absence
        self._kept.pop((tenant, item.sk), None)
