"""The hub's use cases, one class per capability. Pure: they reach the world only through the
ports they are built with. `compose` builds them all from one Ports bundle: chalicelib/wiring.py
with the real adapters, tests with the in-memory fakes."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.services.access import Access
from chalicelib.services.agencies import Agencies
from chalicelib.services.configuration import Configuration
from chalicelib.services.connections import Connections
from chalicelib.services.console import Console
from chalicelib.services.console_users import ConsoleTeam
from chalicelib.services.correspondence import Correspondence
from chalicelib.services.credential_fields import CredentialFields
from chalicelib.services.dead_letters import FailedWork
from chalicelib.services.deliveries import SourceDeliveries
from chalicelib.services.intake import Intake
from chalicelib.services.kpis import Kpis
from chalicelib.services.letters import Letters
from chalicelib.services.nurture import Nurture
from chalicelib.services.people import People
from chalicelib.services.ports import Options, Ports
from chalicelib.services.relay import RelayPages
from chalicelib.services.routing import Routing
from chalicelib.services.senders import Senders
from chalicelib.services.source_list import SourceList
from chalicelib.services.writeback import Writeback

__all__ = ["Options", "Ports", "Services", "compose"]


@dataclass(frozen=True)
class Services:
    """Every capability, built once per container; handlers call the one they need."""

    ports: Ports
    configuration: Configuration
    senders: Senders
    intake: Intake
    people: People
    access: Access
    correspondence: Correspondence
    relay: RelayPages
    agencies: Agencies
    kpis: Kpis
    nurture: Nurture
    console: Console
    source_list: SourceList  # issue 18: the admin API's list of sources
    team: ConsoleTeam  # e18-admin: the console's users
    writeback: Writeback
    routing: Routing
    deliveries: SourceDeliveries  # e20-sources: the delivery log, test events, secret rotation
    failed_work: FailedWork  # e20-sources: the dead-letter queues per tenant


def compose(ports: Ports, options: Options | None = None) -> Services:
    """Build each capability with exactly the ports and sibling capabilities it uses."""
    options = options or Options()
    p = ports
    senders = Senders(p.sender_domains, p.sender_identities, p.notices, p.clock)
    configuration = Configuration(p.config, p.credentials, p.tenants, p.templates, senders, p.egress, clock=p.clock)
    letters = Letters(p.tokens, p.templates, p.mailer, p.clock, options.public_url)
    routing = Routing(p.config, p.relations, p.notices, p.clock)
    agencies = Agencies(referrals=p.referrals, relations=p.relations, credentials=p.credentials, config=p.config,
                        tenants=p.tenants, queues=p.queues, agency_clients=p.agency_clients, egress=p.egress,
                        configuration=configuration, clock=p.clock, sleep=p.sleep,
                        timeout_s=options.agency_timeout_s, parallelism=options.agency_parallelism)
    connections = Connections(credentials=p.credentials, vendor_apis=p.vendor_apis, oauth_clients=p.oauth,
                              token_endpoint=p.token_endpoint, once=p.once, config=p.config, clock=p.clock)
    writeback = Writeback(writers=p.field_writers, answered=p.answered_links, config=p.config, connections=connections,
                          relations=p.relations, tenants=p.tenants, tokens=p.tokens, queues=p.queues, once=p.once,
                          link_keys=p.link_keys, clock=p.clock, public_url=options.public_url)
    intake = Intake(sources=p.sources, enriched=p.enriched, polled=p.polled, secret_formats=p.secret_formats,
                    vendor_apis=p.vendor_apis, egress=p.egress, credentials=p.credentials, relations=p.relations,
                    tenants=p.tenants, notices=p.notices, queues=p.queues, configuration=configuration, clock=p.clock,
                    connections=connections, field_writers=p.field_writers,
                    credential_fields=CredentialFields(oauth=p.oauth, account_tokens=p.account_tokens))
    deliveries = SourceDeliveries(intake=intake, sources=p.sources, secret_formats=p.secret_formats,
                                  credentials=p.credentials, delivery_log=p.delivery_log, test_events=p.test_events,
                                  clock=p.clock, queues=p.queues)
    return Services(
        ports=ports,
        configuration=configuration,
        senders=senders,
        intake=intake,
        people=People(p.relations, p.suppressions, p.referrals, p.clock),
        access=Access(p.audit, p.admin_tokens, p.tenants, p.clock),
        correspondence=Correspondence(p.notices, p.suppressions, configuration, letters, senders, routing,
                                      hub_notice=writeback.sends_hub_notice),
        relay=RelayPages(p.tokens, p.relations, p.suppressions, p.config, configuration, p.clock, routing),
        agencies=agencies,
        kpis=Kpis(p.counters, p.tenants, p.kpi_publisher, configuration, agencies, p.clock),
        nurture=Nurture(config=p.config, relations=p.relations, counters=p.counters, schedules=p.nurture,
                        suppressions=p.suppressions, queues=p.queues, once=p.once, templates=p.templates,
                        tenants=p.tenants, configuration=configuration, letters=letters, senders=senders,
                        clock=p.clock),
        console=Console(p.sessions, p.id_tokens, p.sign_in, p.audit, p.clock),
        source_list=SourceList(intake=intake, tenants=p.tenants, public_url=options.public_url, deliveries=deliveries),
        team=ConsoleTeam(p.console_users),
        writeback=writeback,
        routing=routing,
        deliveries=deliveries,
        failed_work=FailedWork(dead_letters=p.dead_letters, once=p.once, clock=p.clock),
    )
