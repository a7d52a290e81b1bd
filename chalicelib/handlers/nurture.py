"""The nurture admin API: segments, campaigns and the nurture job (docs/nurture.md)."""
from __future__ import annotations

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.handlers.admin import admin
from chalicelib.handlers.http import Principal, json_object, json_response
from chalicelib.observability import logger


@admin("segment.change")
def put_segment(request: Request, who: Principal, tenant: str, segment: str) -> Response:
    stored = wiring.hub().nurture.put_segment(tenant, segment, json_object(request.raw_body))
    logger.info("segment changed", extra={"tenant": tenant, "segment": segment})
    return json_response(stored)


@admin(None)  # a count, no personal data
def get_segment(request: Request, who: Principal, tenant: str, segment: str) -> Response:
    return json_response(wiring.hub().nurture.segment_preview(tenant, segment))


@admin("campaign.change")
def put_campaign(request: Request, who: Principal, tenant: str, campaign: str) -> Response:
    stored = wiring.hub().nurture.put_campaign(tenant, campaign, json_object(request.raw_body))
    logger.info("campaign changed", extra={"tenant": tenant, "campaign": campaign, **(stored["enrolment"] or {})})
    return json_response(stored)


@admin(None)
def get_campaign(request: Request, who: Principal, tenant: str, campaign: str) -> Response:
    return json_response(wiring.hub().nurture.campaign(tenant, campaign))


@admin("job.nurture")
def run_nurture(request: Request, who: Principal, tenant: str) -> Response:
    report = wiring.hub().nurture.run_nurture(tenant)
    logger.info("nurture job run", extra=report)
    return json_response(report)
