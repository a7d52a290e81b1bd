"""The admin API's lists (issue 18): a tenant's sources, agencies, segments, a segment's members and
campaigns, for the console and for curl. Each is authorized for the tenant in its path like every
admin route; only the members list reads personal data, and it is audited (segment.members)."""
from __future__ import annotations

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.handlers.admin import admin
from chalicelib.handlers.http import Principal, json_response


@admin(None)  # configuration: which secrets are stored (booleans), never a value
def list_sources(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().source_list.list_sources(tenant))


@admin(None)
def list_agencies(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().agencies.list_agencies(tenant, request.query_params or {}))


@admin(None)  # expressions and counts, no personal data
def list_segments(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().nurture.list_segments(tenant, request.query_params or {}))


@admin("segment.members")  # people: audited like a search (target: the segment)
def segment_members(request: Request, who: Principal, tenant: str, segment: str) -> Response:
    return json_response(wiring.hub().nurture.segment_members(tenant, segment, request.query_params or {}))


@admin(None)
def list_campaigns(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().nurture.list_campaigns(tenant, request.query_params or {}))
