"""Each tenant's time zone as the counter writes need it: every counter lands on the tenant's local
day (kpis.route), so a transaction that counts reads the zone from the tenant's settings document.

One read per tenant per container every ZONE_TTL_S at most (the settings change seldom; a change
counts from the next read on, in every container within ZONE_TTL_S; docs/kpis.md)."""
from __future__ import annotations

import threading
import time

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.models import ConfigItem, table_name
from chalicelib.domain import tenants

ZONE_TTL_S = 300.0
_lock = threading.Lock()
_zones: dict[tuple[str, str], tuple[float, str]] = {}  # (table, tenant) -> (read until, zone)


def zone_of(tenant: str) -> str:
    """The tenant's time zone (an IANA name): of its settings, else the defaults' (Asia/Tokyo)."""
    key = (table_name(), tenant)
    with _lock:
        hit = _zones.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    try:
        data = ConfigItem.get(keys.conf_pk(tenant), keys.document_sk("settings", ())).data
    except ConfigItem.DoesNotExist:
        data = None
    zone = tenants.zone_of(data)
    with _lock:
        _zones[key] = (time.monotonic() + ZONE_TTL_S, zone)
    return zone


def forget(tenant: str | None = None) -> None:
    """Read the zone again next time: after the tenant's settings changed (None: every tenant's)."""
    with _lock:
        for key in [k for k in _zones if tenant is None or k[1] == tenant]:
            del _zones[key]
