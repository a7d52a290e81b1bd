"""The admin API (/admin/...): every call authenticated, every answer JSON (a search also as CSV)."""
from __future__ import annotations

import json
from functools import wraps
from typing import TYPE_CHECKING

from chalice import Response
from chalice.app import Request

from chalicelib import wiring
from chalicelib.domain.errors import BadRequest, NotFound, PayloadTooLarge
from chalicelib.handlers.http import Principal, api, authorize, json_object, json_response, require_caller
from chalicelib.observability import logger, source_failing

if TYPE_CHECKING:
    from chalicelib.domain.ports import Profile


def _path_target(request: Request, names: tuple[str, ...], response: Response) -> str | None:
    """The record an action was about: the path's names after the tenant, or ?person_id=."""
    return "/".join(names) or (request.query_params or {}).get("person_id")


def admin(action: str | None, *, all_tenants: bool = False, target=_path_target):
    """An admin route: authenticated and authorized for the tenant in its path, answered in JSON,
    and, when it names an action (a read of personal data, an export, an erasure, a change), written
    to the tenant's audit trail once it succeeded: who, when, what, which record; never the data."""

    def decorate(handler):
        @api
        @wraps(handler)
        def route(request: Request, tenant: str, *names: str) -> Response:
            who = authorize(request.headers, request.context, tenant, all_tenants=all_tenants)
            response = handler(request, who, tenant, *names)
            if action and response.status_code < 300:
                wiring.hub().access.audit(tenant, who=who.who, action=action, target=target(request, names, response))
            return response

        return route

    return decorate


def person_json(profile: Profile) -> dict:
    from chalicelib.domain import people_search  # domain models load on first use (cold start)

    return people_search.profile_json(profile.person, profile.timeline)


@admin('source.connect')
def put_source(request: Request, who: Principal, tenant: str, source: str) -> Response:
    body = json_object(request.raw_body)
    unknown = set(body) - {"webhook_secret", "api_key", "api_base_url", "revoke_previous", "account_token", "oauth", "delivery"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    intake, writeback = wiring.hub().intake, wiring.hub().writeback
    chosen = writeback.check_delivery(source, body["delivery"]) if "delivery" in body else None
    if chosen is not None and set(body) == {"delivery"}:  # the delivery alone: the stored connection stays
        intake.source_status(tenant, source)  # 404 unless connected
        writeback.save_delivery(tenant, source, chosen)
        return json_response({"tenant": tenant, "source": source, "delivery": chosen.to_json()})
    # the platform operator (the all-tenants token, an IAM principal of the platform) may point a
    # vendor's API anywhere the egress policy allows; a tenant's token only at the vendor's hosts
    secrets = intake.connect_source(tenant, source, body.get("webhook_secret"), body.get("api_key"),
                                    body.get("api_base_url"), by_platform=who.tenant is None,
                                    revoke_previous=body.get("revoke_previous", False),
                                    account_token=body.get("account_token"), oauth=body.get("oauth"))
    if chosen is not None:
        writeback.save_delivery(tenant, source, chosen)
    logger.info("source connected", extra={"tenant": tenant, "source": source, "secrets": secrets})
    answer = {"tenant": tenant, "source": source, "api_key_stored": secrets["api_key"], "secrets": secrets,
              "delivery": writeback.delivery(tenant, source).to_json()}
    if intake.is_pushed(source):
        answer["webhook_path"] = f"/webhooks/{tenant}/{source}"
    else:
        answer["polled"] = True
    return json_response(answer)


@admin(None)
def get_source(request: Request, who: Principal, tenant: str, source: str) -> Response:
    hub = wiring.hub()
    status = hub.intake.source_status(tenant, source)
    return json_response({**status, "delivery": hub.writeback.delivery(tenant, source).to_json(),
                          **hub.source_list.delivery_state(tenant, source, status)})  # e20-sources: last delivery


@admin('job.ats_backfill')
def run_ats_backfill(request: Request, who: Principal, tenant: str, source: str) -> Response:
    """One bounded run of the ats_field backfill (the next goes on from the stored cursor)."""
    return json_response(wiring.hub().writeback.backfill(tenant, source))


@admin('job.poll_sources')
def run_poll(request: Request, who: Principal, tenant: str) -> Response:
    reports = wiring.hub().intake.poll_sources(tenant)
    for report in reports:
        if report.detail:  # the admin reads one code; what answered (or not) is for the logs only
            logger.warning("source poll failed", extra={"tenant": tenant, "source": report.source, "detail": report.detail})
        if report.failing:
            source_failing(report.source)
    return json_response({"sources": [r.to_json() for r in reports]})


def import_inventory(request: Request, tenant: str) -> Response:
    """POST .../imports: the inventory CSV (docs/import.md); `?dry_run=true` previews and stores nothing."""
    dry_run = (request.query_params or {}).get("dry_run", "").lower() in ("true", "1", "yes")
    return (_preview_inventory if dry_run else _import_inventory)(request, tenant)


def _inventory(request: Request, tenant: str, *, dry_run: bool) -> Response:
    raw = request.raw_body or b""
    from chalicelib.services.common import MAX_BODY_BYTES

    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the CSV is over {MAX_BODY_BYTES} bytes: split it")
    hub = wiring.hub()
    report = hub.intake.import_inventory(tenant, raw, dry_run=dry_run)
    counts = ("dry_run", "rows", "valid", "imported", "duplicates")  # never a name: the preview holds some
    logger.info("inventory read", extra={k: report[k] for k in counts if k in report} | {"row_errors": len(report["errors"])})
    return json_response(report)


@admin('people.import')
def _import_inventory(request: Request, who: Principal, tenant: str) -> Response:
    return _inventory(request, tenant, dry_run=False)


@admin('people.import_preview')
def _preview_inventory(request: Request, who: Principal, tenant: str) -> Response:
    return _inventory(request, tenant, dry_run=True)


@admin('people.search')
def find_people(request: Request, who: Principal, tenant: str) -> Response:
    hub, query = wiring.hub(), request.query_params or {}
    region = hub.configuration.phone_region(tenant) if query.get("phone") else None  # ?phone= read in the tenant's region
    found = hub.people.search_people(tenant, query, region=region)
    if "text/csv" in (request.headers.get("accept") or ""):  # for a spreadsheet: formula cells neutralised
        from chalicelib.domain import people_search

        after = {"X-Next-Cursor": found["next"]} if found["next"] else {}
        return Response(body=people_search.csv_page(found), status_code=200,
                        headers={"Content-Type": "text/csv; charset=utf-8", **after})
    return json_response(found)


@admin('person.read')
def get_person(request: Request, who: Principal, tenant: str, person_id: str) -> Response:
    people = wiring.hub().people
    profile = people.person(tenant, person_id)
    if profile is None:
        raise NotFound("no such person")
    return json_response({**person_json(profile), "identities": list(profile.person.identities),
                          "suggested_merges": people.suggested_merges(tenant, profile)})


def _merge_target(request: Request, names: tuple[str, ...], response: Response) -> str:
    """The audit target of a merge: both ids (the survivor, then the id merged into it); no data."""
    answer = json.loads(response.body) if isinstance(response.body, str) else {}
    return f"{answer.get('person_id')}+{answer.get('merged')}"


@admin('person.merge', target=_merge_target)
def merge_person(request: Request, who: Principal, tenant: str, person_id: str) -> Response:
    merged = wiring.hub().people.merge_people(tenant, person_id, json_object(request.raw_body))
    logger.info("people merged", extra={"tenant": tenant, "person_id": merged.person_id, "merged": merged.merged})
    return json_response({"person_id": merged.person_id, "merged": merged.merged, "merged_at": merged.merged_at})


@admin('settings.change')
def put_settings(request: Request, who: Principal, tenant: str) -> Response:
    settings = wiring.hub().configuration.put_settings(tenant, json_object(request.raw_body))
    logger.info("settings changed", extra={"tenant": tenant})
    return json_response(settings)


@admin(None)
def get_settings(request: Request, who: Principal, tenant: str) -> Response:
    settings = wiring.hub().configuration.settings_answer(tenant)
    if settings is None:
        raise NotFound("this tenant has no settings yet")
    return json_response(settings)


@admin('template.change')
def put_template(request: Request, who: Principal, tenant: str, kind: str, locale: str) -> Response:
    stored = wiring.hub().configuration.put_template(tenant, kind, locale, json_object(request.raw_body), by=who.who)
    logger.info("template changed", extra={"tenant": tenant, "kind": kind, "locale": locale})
    return json_response(stored)


@admin(None)
def get_template(request: Request, who: Principal, tenant: str, kind: str, locale: str) -> Response:
    template = wiring.hub().configuration.template(tenant, kind, locale)
    return json_response({"kind": kind, "locale": locale, "version": template.version, "subject": template.subject,
                          "text": template.text, "html": template.html, "default": template.version == 0})


@admin(None)
def preview_template(request: Request, who: Principal, tenant: str, kind: str, locale: str) -> Response:
    body = json_object(request.raw_body) if (request.raw_body or b"").strip() else None
    return json_response(wiring.hub().configuration.preview_template(tenant, kind, locale, body))


@admin('agency.change')
def put_agency(request: Request, who: Principal, tenant: str, agency: str) -> Response:
    stored = wiring.hub().agencies.put_agency(tenant, agency, json_object(request.raw_body))
    logger.info("agency configured", extra={"tenant": tenant, "agency": agency})
    return json_response(stored)


@admin(None)
def get_agency(request: Request, who: Principal, tenant: str, agency: str) -> Response:
    return json_response(wiring.hub().agencies.agency_view(tenant, agency))


@admin('job.agency_batch')
def run_agency_batch(request: Request, who: Principal, tenant: str) -> Response:
    return json_response({"agencies": wiring.hub().agencies.run_agency_batches(tenant)})


@admin(None)
def ledger(request: Request, who: Principal, tenant: str, agency: str) -> Response:
    return json_response(wiring.hub().agencies.ledger(tenant, agency))


@admin('slot.use')
def use_slot(request: Request, who: Principal, tenant: str, agency: str) -> Response:
    body = json_object(request.raw_body) if (request.raw_body or b"").strip() else {}
    entry = wiring.hub().agencies.use_slot(tenant, agency, body, by=who.who)
    logger.info("slot used", extra={"tenant": tenant, "agency": agency})
    return json_response(entry, 201)


@admin('provisions.read')
def provisions(request: Request, who: Principal, tenant: str) -> Response:
    person_id = (request.query_params or {}).get("person_id", "")
    return json_response({"provisions": wiring.hub().agencies.provisions(tenant, person_id)})


@admin(None)
def consent_text(request: Request, who: Principal, tenant: str, version: str) -> Response:
    return json_response(wiring.hub().configuration.consent_text(tenant, version))


@admin(None)
def get_kpis(request: Request, who: Principal, tenant: str) -> Response:
    query = request.query_params or {}
    return json_response(wiring.hub().kpis.kpis(tenant, query.get("from"), query.get("to"), query.get("by")))


@admin('job.kpi_publish')
def run_kpi_publish(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().kpis.publish_kpis(tenant))


@admin('person.tags')
def patch_person(request: Request, who: Principal, tenant: str, person_id: str) -> Response:
    return json_response(wiring.hub().people.tag_person(tenant, person_id, json_object(request.raw_body)))


@admin('person.export')
def export_person(request: Request, who: Principal, tenant: str, person_id: str) -> Response:
    document = wiring.hub().people.export_person(tenant, person_id)
    return json_response(document, headers={"Content-Disposition": f'attachment; filename="{person_id}.json"',
                                            "Cache-Control": "no-store"})


@admin('person.notices')
def requeue_notices(request: Request, who: Principal, tenant: str, person_id: str) -> Response:
    return json_response(wiring.hub().correspondence.requeue_notices(tenant, person_id))


@admin('person.erase')
def erase_person(request: Request, who: Principal, tenant: str, person_id: str) -> Response:
    answer = wiring.hub().people.erase_person(tenant, person_id)
    logger.info("person erased", extra={"tenant": tenant, "person_id": person_id})
    return json_response(answer)


@admin(None)
def audit_log(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().access.audit_entries(tenant, request.query_params or {}))


@admin('token.issue', all_tenants=True, target=lambda request, names, response: json.loads(response.body)["id"])
def issue_token(request: Request, who: Principal, tenant: str) -> Response:
    body = json_object(request.raw_body) if (request.raw_body or b"").strip() else {}
    answer = wiring.hub().access.issue_admin_token(tenant, body, by=who.who)
    logger.info("admin token issued", extra={"tenant": tenant, "token_id": answer["id"]})
    return json_response(answer, 201, {"Cache-Control": "no-store"})


@admin(None, all_tenants=True)
def list_tokens(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().access.admin_tokens(tenant), headers={"Cache-Control": "no-store"})


@admin('token.revoke', all_tenants=True)
def revoke_token(request: Request, who: Principal, tenant: str, token_id: str) -> Response:
    return json_response(wiring.hub().access.revoke_admin_token(tenant, token_id))


@admin('principal.grant', all_tenants=True, target=lambda request, names, response: json.loads(response.body)["id"])
def grant_principal(request: Request, who: Principal, tenant: str) -> Response:
    answer = wiring.hub().access.grant_principal(tenant, json_object(request.raw_body), by=who.who)
    logger.info("principal granted", extra={"tenant": tenant, "grant_id": answer["id"]})
    return json_response(answer, 201)


@admin(None, all_tenants=True)
def list_principals(request: Request, who: Principal, tenant: str) -> Response:
    return json_response(wiring.hub().access.principal_grants(tenant))


@admin('principal.revoke', all_tenants=True)
def revoke_principal(request: Request, who: Principal, tenant: str, grant_id: str) -> Response:
    return json_response(wiring.hub().access.revoke_principal(tenant, grant_id))


@api
def openapi(request: Request) -> Response:
    from chalicelib import openapi as description

    require_caller(request.headers, request.context)
    return json_response(description.document())
