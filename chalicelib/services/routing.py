"""Routing: what a rejection's notice becomes (relay, nurture_only, none; docs/routing.md), when it
goes (the tenant's notice delay, the invitation's days) and through which channel and template."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import routing
from chalicelib.domain.delivery import Delivery
from chalicelib.domain.delivery import read as read_delivery
from chalicelib.domain.events import utc
from chalicelib.domain.ports import Clock, Config, Notices, Relations
from chalicelib.domain.records import JsonDict, NoticeView, TokenInfo
from chalicelib.domain.tenants import TenantSettings
from chalicelib.services.common import check_tenant

ROUTED_KINDS = ("rejection",)  # an alumni farewell is not routed


def delivery_of(config: Config, tenant: str, source: str) -> Delivery:
    """The source's delivery setting (`PUT .../sources/{s}` "delivery", domain/delivery.py); hub_notice when none."""
    found = config.get(tenant, "source_delivery", (source,))
    return read_delivery(found.data if found is not None else None)


@dataclass(frozen=True)
class Route:
    kind: str                          # the template kind to send
    channel: str                       # the link channel (domain/routing.py CHANNELS)
    decision: routing.Decision | None  # None: not a routed kind (an alumni farewell)
    wait_until: datetime | None = None  # set when the notice is not due yet


def rejection_of(view: NoticeView) -> routing.Rejection:
    track = view.person.tracks.get(view.track)
    return routing.Rejection(reason=track.reason if track else None,
                             by_candidate=bool(track and track.status == "offer_declined"),
                             stage=track.stage if track else None, source=view.source)


class Routing:
    def __init__(self, config: Config, relations: Relations, notices: Notices, clock: Clock) -> None:
        self._config = config
        self._relations = relations
        self._notices = notices
        self._clock = clock

    # -- the admin API ------------------------------------------------------------------------------

    def put_rules(self, tenant: str, body: Mapping[str, Any]) -> JsonDict:
        rules = routing.parse_rules(dict(body))
        version = self._config.put(check_tenant(tenant), "routing", (), {"rules": [rule.to_json() for rule in rules]})
        return {"rules": [rule.to_json() for rule in rules], "version": version}

    def rules_answer(self, tenant: str) -> JsonDict:
        found = self._config.get(check_tenant(tenant), "routing")
        rules = routing.stored_rules(found.data if found else None)
        return {"rules": [rule.to_json() for rule in rules], "version": found.version if found else None,
                "defaults": [{"when": label, "action": action} for label, action, _ in routing.DEFAULTS]
                + [{"when": routing.WITHDREW, "action": "none"}, {"when": routing.OTHER, "action": "relay"}]}

    # -- notices and pages --------------------------------------------------------------------------

    def decide(self, tenant: str, view: NoticeView) -> routing.Decision:
        found = self._config.get(tenant, "routing")
        return routing.decide(routing.stored_rules(found.data if found else None), rejection_of(view))

    def plan(self, tenant: str, view: NoticeView, settings: TenantSettings | None) -> Route:
        """What a due notice becomes now: its action, template kind, channel, or a later due time."""
        if view.kind not in ROUTED_KINDS:
            return Route(kind=view.kind, channel=routing.DEFAULT_CHANNEL, decision=None)
        decision = self.decide(tenant, view)
        delivery = delivery_of(self._config, tenant, view.source)
        if delivery.mode == "invitation":
            due: datetime | None = utc(view.fact_at) + timedelta(days=delivery.invitation_delay_days)
            kind, channel = routing.INVITATION_KIND, "invitation"
        else:  # hub_notice (ats_field: the write-back takes this mode over on merge)
            minutes = settings.notice_delay_minutes if settings else None
            due = utc(view.fact_at) + timedelta(minutes=minutes) if minutes is not None else None
            kind, channel = view.kind, routing.DEFAULT_CHANNEL
        later = due if due is not None and due > self._clock() and decision.action != "none" else None
        return Route(kind=kind, channel=channel, decision=decision, wait_until=later)

    def postpone(self, tenant: str, person_id: str, notice: str, until: datetime) -> bool:
        return self._notices.postpone(tenant, person_id, notice, until)

    def record(self, tenant: str, person_id: str, route: Route, view: NoticeView) -> None:
        """A notice routed to no mail gets its timeline entry (once: keyed by the fact's time; a sent one says it
        in notice_sent); a silver medalist is tagged."""
        if route.decision is None:
            return
        if route.decision.action == "none":
            self._relations.record_contact_event(tenant, person_id, route.decision.entry(view.fact_at, route.kind), {})
        if route.decision.action == "nurture_only":
            self._relations.set_tags(tenant, person_id, lambda tags: tags if routing.SILVER_MEDALIST in tags
                                     else (*tags, routing.SILVER_MEDALIST))

    def page_action(self, info: TokenInfo) -> str:
        """What a link's page may offer: the action of the notice it came with (relay for any other link)."""
        if info.notice is None:
            return "relay"
        view = self._notices.view(info.tenant, info.person_id, info.notice)
        if view is None or view.kind not in ROUTED_KINDS:
            return "relay"
        return self.decide(info.tenant, view).action

