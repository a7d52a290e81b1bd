"""Entry points of the relations hub. Each function adapts one AWS trigger and delegates."""
from chalice import Chalice, Rate

from chalicelib import observability
from chalicelib.handlers import http, on_first_use

# The handler modules load on first use (chalicelib/handlers/__init__.py): registering the routes needs none of them.
admin, admin_lists, console, console_admin, dashboard, nurture, pages, queues, routing, schedules, webhooks = on_first_use(
    "admin", "admin_lists", "console", "console_admin", "dashboard", "nurture", "pages", "queues", "routing", "schedules",
    "webhooks")

app = Chalice(app_name="relations-hub", configure_logs=False)
observability.register(app)
http.register(app)  # Chalice's own refusals (415, 405) in the hub's JSON error shape

# Vendors sign bytes, not JSON: take any body type and read the raw bytes.
ANY_BODY = ["application/json", "application/x-www-form-urlencoded", "text/plain", "application/octet-stream",
            "application/cloudevents+json", "application/xml", "text/xml", "multipart/form-data"]


@app.route("/health", methods=["GET"])
def health():
    return {"status": "ok"}


@app.route("/webhooks/{tenant}/{source}", methods=["POST"], content_types=ANY_BODY)
def receive_webhook(tenant, source):
    return webhooks.receive(app.current_request, tenant, source)


@app.route("/admin/tenants/{tenant}/sources/{source}", methods=["PUT"])
def put_source(tenant, source):
    return admin.put_source(app.current_request, tenant, source)


@app.route("/admin/tenants/{tenant}/sources/{source}", methods=["GET"])
def get_source(tenant, source):
    return admin.get_source(app.current_request, tenant, source)


@app.route("/admin/tenants/{tenant}/sources/{source}/jobs/ats_backfill", methods=["POST"], content_types=ANY_BODY)
def run_ats_backfill(tenant, source):
    return admin.run_ats_backfill(app.current_request, tenant, source)


@app.route("/admin/tenants/{tenant}/people", methods=["GET"])
def find_people(tenant):
    return admin.find_people(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/people/{person_id}", methods=["GET"])
def get_person(tenant, person_id):
    return admin.get_person(app.current_request, tenant, person_id)


@app.route("/admin/tenants/{tenant}/people/{person_id}", methods=["PATCH"])
def patch_person(tenant, person_id):
    return admin.patch_person(app.current_request, tenant, person_id)


@app.route("/admin/tenants/{tenant}/people/{person_id}", methods=["DELETE"])
def erase_person(tenant, person_id):
    return admin.erase_person(app.current_request, tenant, person_id)


@app.route("/admin/tenants/{tenant}/people/{person_id}/export", methods=["GET"])
def export_person(tenant, person_id):
    return admin.export_person(app.current_request, tenant, person_id)


@app.route("/admin/tenants/{tenant}/people/{person_id}/merge", methods=["POST"])
def merge_person(tenant, person_id):
    return admin.merge_person(app.current_request, tenant, person_id)


@app.route("/admin/tenants/{tenant}/people/{person_id}/notices/requeue", methods=["POST"])
def requeue_notices(tenant, person_id):
    return admin.requeue_notices(app.current_request, tenant, person_id)


@app.route("/admin/tenants/{tenant}/audit", methods=["GET"])
def audit_log(tenant):
    return admin.audit_log(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/tokens", methods=["POST"], content_types=ANY_BODY)
def issue_token(tenant):
    return admin.issue_token(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/tokens", methods=["GET"])
def list_tokens(tenant):
    return admin.list_tokens(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/tokens/{token_id}", methods=["DELETE"])
def revoke_token(tenant, token_id):
    return admin.revoke_token(app.current_request, tenant, token_id)


@app.route("/admin/tenants/{tenant}/principals", methods=["POST"])
def grant_principal(tenant):
    return admin.grant_principal(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/principals", methods=["GET"])
def list_principals(tenant):
    return admin.list_principals(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/principals/{grant_id}", methods=["DELETE"])
def revoke_principal(tenant, grant_id):
    return admin.revoke_principal(app.current_request, tenant, grant_id)


@app.route("/admin/openapi.json", methods=["GET"])
def openapi():
    return admin.openapi(app.current_request)


@app.route("/admin/tenants/{tenant}/jobs/poll_sources", methods=["POST"], content_types=ANY_BODY)
def run_poll(tenant):
    return admin.run_poll(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/imports", methods=["POST"], content_types=["text/csv", "text/plain", "application/octet-stream"])
def import_inventory(tenant):
    return admin.import_inventory(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/settings", methods=["PUT"])
def put_settings(tenant):
    return admin.put_settings(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/settings", methods=["GET"])
def get_settings(tenant):
    return admin.get_settings(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/templates/{kind}/{locale}", methods=["PUT"])
def put_template(tenant, kind, locale):
    return admin.put_template(app.current_request, tenant, kind, locale)


@app.route("/admin/tenants/{tenant}/templates/{kind}/{locale}", methods=["GET"])
def get_template(tenant, kind, locale):
    return admin.get_template(app.current_request, tenant, kind, locale)


@app.route("/admin/tenants/{tenant}/templates/{kind}/{locale}/preview", methods=["POST"])
def preview_template(tenant, kind, locale):
    return admin.preview_template(app.current_request, tenant, kind, locale)


FORM = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "application/json"]


@app.route("/r/{token}", methods=["GET"])
def relay_page(token):
    return pages.relay_get(app.current_request, token)


@app.route("/r/{token}", methods=["POST"], content_types=FORM)
def relay_decide(token):
    return pages.relay_post(app.current_request, token)


@app.route("/r/{token}/seen", methods=["GET"])
def relay_seen(token):
    return pages.relay_seen(app.current_request, token)


@app.route("/u/{token}", methods=["GET"])
def unsubscribe_page(token):
    return pages.unsubscribe_get(app.current_request, token)


@app.route("/u/{token}", methods=["POST"], content_types=FORM)
def unsubscribe(token):
    return pages.unsubscribe_post(app.current_request, token)


@app.route("/admin/tenants/{tenant}/agencies/{agency}", methods=["PUT"])
def put_agency(tenant, agency):
    return admin.put_agency(app.current_request, tenant, agency)


@app.route("/admin/tenants/{tenant}/agencies/{agency}", methods=["GET"])
def get_agency(tenant, agency):
    return admin.get_agency(app.current_request, tenant, agency)


@app.route("/admin/tenants/{tenant}/jobs/agency_batch", methods=["POST"], content_types=ANY_BODY)
def run_agency_batch(tenant):
    return admin.run_agency_batch(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/agencies/{agency}/ledger", methods=["GET"])
def agency_ledger(tenant, agency):
    return admin.ledger(app.current_request, tenant, agency)


@app.route("/admin/tenants/{tenant}/agencies/{agency}/slots/use", methods=["POST"], content_types=ANY_BODY)
def use_slot(tenant, agency):
    return admin.use_slot(app.current_request, tenant, agency)


@app.route("/admin/tenants/{tenant}/provisions", methods=["GET"])
def provisions(tenant):
    return admin.provisions(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/consent_texts/{version}", methods=["GET"])
def consent_text(tenant, version):
    return admin.consent_text(app.current_request, tenant, version)


@app.route("/admin/tenants/{tenant}/kpis", methods=["GET"])
def get_kpis(tenant):
    return admin.get_kpis(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/jobs/kpi_publish", methods=["POST"], content_types=ANY_BODY)
def run_kpi_publish(tenant):
    return admin.run_kpi_publish(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/dashboard", methods=["GET"])
def kpi_dashboard(tenant):
    return dashboard.dashboard(app.current_request, tenant)


@app.schedule(Rate(1, unit=Rate.DAYS))
def publish_kpis(event):
    schedules.publish_kpis()


@app.schedule(Rate(1, unit=Rate.HOURS))
def send_referrals(event):
    schedules.send_referrals()


@app.schedule(Rate(15, unit=Rate.MINUTES))
def poll_sources(event):
    schedules.poll_sources(event.context)


# SQS event-source mappings (ReportBatchItemFailures, DLQ) are declared in infra/.
@app.lambda_function(name="enrich_sources")
def enrich_sources(event, context):
    return queues.enrich_batch(event, context)


@app.schedule(Rate(5, unit=Rate.MINUTES))
def release_notices(event):
    schedules.release_notices()


@app.lambda_function(name="send_notices")
def send_notices(event, context):
    return queues.notices_batch(event, context)


# The ats_field delivery: Career Relay links written into ATS fields, and its backfill (services/writeback.py).
@app.lambda_function(name="write_ats_fields")
def write_ats_fields(event, context):
    return queues.writeback_batch(event, context)


# The delivery log's entries of duplicate deliveries, written off the webhook's request path (services/deliveries.py).
@app.lambda_function(name="log_deliveries")
def log_deliveries(event, context):
    return queues.deliveries_batch(event, context)


# Once per link window, each ats_field source's open applications get the new window's link (a backfill).
@app.schedule(Rate(1, unit=Rate.DAYS))
def refresh_ats_links(event):
    schedules.refresh_ats_links()


# SES bounces and complaints (the configuration set's event destination); infra/ subscribes the function to
# its stage's topic, relations-hub-<stage>-ses-feedback (the name here serves the local hub).
@app.on_sns_message(topic="relations-hub-ses-feedback")
def ses_feedback(event):
    queues.mail_feedback(event.message)


# -- routing: what each kind of rejection earns (docs/routing.md) -----------------------------------

@app.route("/admin/tenants/{tenant}/routing", methods=["PUT"])
def put_routing(tenant):
    return routing.put_routing(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/routing", methods=["GET"])
def get_routing(tenant):
    return routing.get_routing(app.current_request, tenant)


# -- nurture: segments, campaigns, the nurture job (docs/nurture.md) --------------------------------

@app.route("/admin/tenants/{tenant}/segments/{segment}", methods=["PUT"])
def put_segment(tenant, segment):
    return nurture.put_segment(app.current_request, tenant, segment)


@app.route("/admin/tenants/{tenant}/segments/{segment}", methods=["GET"])
def get_segment(tenant, segment):
    return nurture.get_segment(app.current_request, tenant, segment)


@app.route("/admin/tenants/{tenant}/campaigns/{campaign}", methods=["PUT"])
def put_campaign(tenant, campaign):
    return nurture.put_campaign(app.current_request, tenant, campaign)


@app.route("/admin/tenants/{tenant}/campaigns/{campaign}", methods=["GET"])
def get_campaign(tenant, campaign):
    return nurture.get_campaign(app.current_request, tenant, campaign)


@app.route("/admin/tenants/{tenant}/jobs/nurture", methods=["POST"], content_types=ANY_BODY)
def run_nurture_job(tenant):
    return nurture.run_nurture(app.current_request, tenant)


# Enrols campaigns' segments and queues the due nurture mail to the send_notices consumer.
@app.schedule(Rate(1, unit=Rate.DAYS))
def run_nurture(event):
    schedules.run_nurture()


# -- issue 18, the admin API's lists (docs/admin-api.md "Lists") ------------------------------------

@app.route("/admin/tenants/{tenant}/sources", methods=["GET"])
def list_sources(tenant):
    return admin_lists.list_sources(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/agencies", methods=["GET"])
def list_agencies(tenant):
    return admin_lists.list_agencies(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/segments", methods=["GET"])
def list_segments(tenant):
    return admin_lists.list_segments(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/segments/{segment}/members", methods=["GET"])
def segment_members(tenant, segment):
    return admin_lists.segment_members(app.current_request, tenant, segment)


@app.route("/admin/tenants/{tenant}/campaigns", methods=["GET"])
def list_campaigns(tenant):
    return admin_lists.list_campaigns(app.current_request, tenant)


# -- the HR console (docs/console.md): every route guarded by the one role table --------------------

@app.route("/console/sign-in", methods=["GET"])
def console_sign_in():
    return console.sign_in_page(app.current_request)


@app.route("/console/sign-in", methods=["POST"], content_types=FORM)
def console_sign_in_submit():
    return console.sign_in_submit(app.current_request)


@app.route("/console/auth/callback", methods=["GET"])
def console_callback():
    return console.callback(app.current_request)


@app.route("/console/sign-out", methods=["POST"], content_types=FORM)
def console_sign_out():
    return console.sign_out(app.current_request)


@app.route("/console", methods=["GET"])
def console_home():
    return console.tenants(app.current_request)


@app.route("/console/t/{tenant}", methods=["GET"])
def console_tenant(tenant):
    return console.tenant_home(app.current_request, tenant)


# -- e18-people: the console's people pool and person screens (docs/console.md, "People") ----------
console_people, console_person = on_first_use("console_people", "console_person")


@app.route("/console/t/{tenant}/people", methods=["GET"])
def console_people_pool(tenant):
    return console_people.pool(app.current_request, tenant)


@app.route("/console/t/{tenant}/people", methods=["POST"], content_types=FORM)
def console_people_bulk_tags(tenant):
    return console_people.bulk_tags(app.current_request, tenant)


@app.route("/console/t/{tenant}/people.csv", methods=["GET"])
def console_people_csv(tenant):
    return console_people.pool_csv(app.current_request, tenant)


@app.route("/console/t/{tenant}/people/{person_id}", methods=["GET"])
def console_person_page(tenant, person_id):
    return console_person.person(app.current_request, tenant, person_id)


@app.route("/console/t/{tenant}/people/{person_id}/tags", methods=["POST"], content_types=FORM)
def console_person_tags(tenant, person_id):
    return console_person.tags(app.current_request, tenant, person_id)


@app.route("/console/t/{tenant}/people/{person_id}/export", methods=["GET"])
def console_person_export(tenant, person_id):
    return console_person.export(app.current_request, tenant, person_id)


@app.route("/console/t/{tenant}/people/{person_id}/erase", methods=["POST"], content_types=FORM)
def console_person_erase(tenant, person_id):
    return console_person.erase(app.current_request, tenant, person_id)


@app.route("/console/t/{tenant}/people/{person_id}/merge", methods=["POST"], content_types=FORM)
def console_person_merge(tenant, person_id):
    return console_person.merge(app.current_request, tenant, person_id)


# -- e18-admin: the console's import, audit and users screens (chalicelib/handlers/console_admin.py) --

@app.route("/console/t/{tenant}/import", methods=["GET"])
def console_import_page(tenant):
    return console_admin.import_page(app.current_request, tenant)


@app.route("/console/t/{tenant}/import/preview", methods=["POST"], content_types=FORM)
def console_import_preview(tenant):
    return console_admin.import_preview(app.current_request, tenant)


@app.route("/console/t/{tenant}/import", methods=["POST"], content_types=FORM)
def console_import_commit(tenant):
    return console_admin.import_commit(app.current_request, tenant)


@app.route("/console/t/{tenant}/audit", methods=["GET"])
def console_audit(tenant):
    return console_admin.audit_page(app.current_request, tenant)


@app.route("/console/t/{tenant}/users", methods=["GET"])
def console_users(tenant):
    return console_admin.users_page(app.current_request, tenant)


@app.route("/console/t/{tenant}/users/invite", methods=["POST"], content_types=FORM)
def console_users_invite(tenant):
    return console_admin.users_invite(app.current_request, tenant)


@app.route("/console/t/{tenant}/users/role", methods=["POST"], content_types=FORM)
def console_users_role(tenant):
    return console_admin.users_role(app.current_request, tenant)


@app.route("/console/t/{tenant}/users/disable", methods=["POST"], content_types=FORM)
def console_users_disable(tenant):
    return console_admin.users_disable(app.current_request, tenant)


@app.route("/console/t/{tenant}/users/enable", methods=["POST"], content_types=FORM)
def console_users_enable(tenant):
    return console_admin.users_enable(app.current_request, tenant)


# -- e20-content: the console's templates and settings screens (chalicelib/handlers/console_content.py)
# and the admin API's template reads they show (chalicelib/handlers/admin_templates.py) ----------------
admin_templates, console_content = on_first_use("admin_templates", "console_content")


@app.route("/admin/tenants/{tenant}/templates", methods=["GET"])
def list_templates(tenant):
    return admin_templates.list_templates(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/templates/{kind}/{locale}/versions", methods=["GET"])
def template_versions(tenant, kind, locale):
    return admin_templates.template_versions(app.current_request, tenant, kind, locale)


@app.route("/console/t/{tenant}/templates", methods=["GET"])
def console_templates(tenant):
    return console_content.templates_page(app.current_request, tenant)


@app.route("/console/t/{tenant}/templates/{kind}/{locale}", methods=["GET"])
def console_template(tenant, kind, locale):
    return console_content.template_page(app.current_request, tenant, kind, locale)


@app.route("/console/t/{tenant}/templates/{kind}/{locale}", methods=["POST"], content_types=FORM)
def console_template_submit(tenant, kind, locale):
    return console_content.template_submit(app.current_request, tenant, kind, locale)


@app.route("/console/t/{tenant}/settings", methods=["GET"])
def console_settings(tenant):
    return console_content.settings_page(app.current_request, tenant)


@app.route("/console/t/{tenant}/settings", methods=["POST"], content_types=FORM)
def console_settings_submit(tenant):
    return console_content.settings_submit(app.current_request, tenant)


@app.route("/console/t/{tenant}/settings/delivery", methods=["POST"], content_types=FORM)
def console_settings_delivery(tenant):
    return console_content.delivery_submit(app.current_request, tenant)


@app.route("/console/t/{tenant}/settings/routing", methods=["POST"], content_types=FORM)
def console_settings_routing(tenant):
    return console_content.routing_submit(app.current_request, tenant)


# -- e20-programs: agencies and the ledger, segments, campaigns, KPIs (chalicelib/handlers/console_programs.py,
# console_kpis.py; docs/console.md "Agencies, segments, campaigns, KPIs") ----------------------------------
console_kpis, console_programs = on_first_use("console_kpis", "console_programs")


@app.route("/console/t/{tenant}/agencies", methods=["GET"])
def console_agencies(tenant):
    return console_programs.agencies(app.current_request, tenant)


@app.route("/console/t/{tenant}/agencies/{agency}", methods=["GET"])
def console_agency(tenant, agency):
    return console_programs.agency(app.current_request, tenant, agency)


@app.route("/console/t/{tenant}/agencies/{agency}/slots/use", methods=["POST"], content_types=FORM)
def console_use_slot(tenant, agency):
    return console_programs.use_slot(app.current_request, tenant, agency)


@app.route("/console/t/{tenant}/segments", methods=["GET"])
def console_segments(tenant):
    return console_programs.segments_page(app.current_request, tenant)


@app.route("/console/t/{tenant}/segments", methods=["POST"], content_types=FORM)
def console_save_segment(tenant):
    return console_programs.save_segment(app.current_request, tenant)


@app.route("/console/t/{tenant}/segments/{segment}", methods=["GET"])
def console_segment(tenant, segment):
    return console_programs.segment(app.current_request, tenant, segment)


@app.route("/console/t/{tenant}/campaigns", methods=["GET"])
def console_campaigns(tenant):
    return console_programs.campaigns(app.current_request, tenant)


@app.route("/console/t/{tenant}/campaigns/{campaign}", methods=["GET"])
def console_campaign(tenant, campaign):
    return console_programs.campaign(app.current_request, tenant, campaign)


@app.route("/console/t/{tenant}/campaigns/{campaign}/pause", methods=["POST"], content_types=FORM)
def console_pause_campaign(tenant, campaign):
    return console_programs.pause_campaign(app.current_request, tenant, campaign)


@app.route("/console/t/{tenant}/campaigns/{campaign}/resume", methods=["POST"], content_types=FORM)
def console_resume_campaign(tenant, campaign):
    return console_programs.resume_campaign(app.current_request, tenant, campaign)


@app.route("/console/t/{tenant}/kpis", methods=["GET"])
def console_kpis_page(tenant):
    return console_kpis.kpis_page(app.current_request, tenant)


@app.route("/console/t/{tenant}/kpis.csv", methods=["GET"])
def console_kpis_csv(tenant):
    return console_kpis.kpis_csv(app.current_request, tenant)


# -- e20-sources: deliveries, test events, secret rotation, dead letters (admin API and console) -----
admin_sources, console_sources = on_first_use("admin_sources", "console_sources")


@app.route("/admin/tenants/{tenant}/sources/{source}/deliveries", methods=["GET"])
def source_deliveries(tenant, source):
    return admin_sources.deliveries(app.current_request, tenant, source)


@app.route("/admin/tenants/{tenant}/sources/{source}/test", methods=["POST"], content_types=ANY_BODY)
def source_test(tenant, source):
    return admin_sources.send_test(app.current_request, tenant, source)


@app.route("/admin/tenants/{tenant}/sources/{source}/rotate", methods=["POST"], content_types=ANY_BODY)
def source_rotate(tenant, source):
    return admin_sources.rotate_secret(app.current_request, tenant, source)


@app.route("/admin/tenants/{tenant}/dead_letters", methods=["GET"])
def dead_letters(tenant):
    return admin_sources.dead_letters(app.current_request, tenant)


@app.route("/admin/tenants/{tenant}/dead_letters/{message_id}/redrive", methods=["POST"], content_types=ANY_BODY)
def redrive_dead_letter(tenant, message_id):
    return admin_sources.redrive(app.current_request, tenant, message_id)


@app.route("/console/t/{tenant}/sources", methods=["GET"])
def console_sources_page(tenant):
    return console_sources.sources_page(app.current_request, tenant)


@app.route("/console/t/{tenant}/sources/{source}", methods=["GET"])
def console_source_page(tenant, source):
    return console_sources.source_page(app.current_request, tenant, source)


@app.route("/console/t/{tenant}/sources/{source}/test", methods=["POST"], content_types=FORM)
def console_source_test(tenant, source):
    return console_sources.send_test(app.current_request, tenant, source)


@app.route("/console/t/{tenant}/sources/{source}/rotate", methods=["POST"], content_types=FORM)
def console_source_rotate(tenant, source):
    return console_sources.rotate(app.current_request, tenant, source)


@app.route("/console/t/{tenant}/sources/{source}/end_previous", methods=["POST"], content_types=FORM)
def console_source_end_previous(tenant, source):
    return console_sources.end_previous(app.current_request, tenant, source)


@app.route("/console/t/{tenant}/sources/{source}/poll", methods=["POST"], content_types=FORM)
def console_source_poll(tenant, source):
    return console_sources.poll(app.current_request, tenant, source)


@app.route("/console/t/{tenant}/dead_letters/redrive", methods=["POST"], content_types=FORM)
def console_redrive(tenant):
    return console_sources.redrive(app.current_request, tenant)
