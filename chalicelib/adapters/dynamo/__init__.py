"""The relations database on DynamoDB, through PynamoDB: one table, the tenant in every key.

One store per port of chalicelib/domain/ports.py, each taking and returning domain values only:
  DynamoRelations (Relations)  DynamoNotices (Notices)      DynamoTenants (Tenants)
  DynamoCounters (Counters)    DynamoConfig (Config)        DynamoTokens (Tokens)
  DynamoSuppressions (Suppressions)  DynamoAudit (Audit)    DynamoAdminTokens (AdminTokens)
  DynamoReferrals (Referrals)  DynamoNurture (NurtureSchedules)  DynamoSenderDomains (SenderDomains)
  DynamoSessions (Sessions: the console's)
Inside: keys.py (every key format: the key map), models.py (the items), convert.py (items <->
domain values), transaction.py (Transaction, retry_on_race and what a failed write is).
`configure(table_name)` points them at the table (wiring does, once per container)."""
from __future__ import annotations

from chalicelib.adapters.dynamo.compliance import DynamoAudit, DynamoSuppressions
from chalicelib.adapters.dynamo.config import DynamoConfig
from chalicelib.adapters.dynamo.counters import DynamoCounters
from chalicelib.adapters.dynamo.keys import referral_id
from chalicelib.adapters.dynamo.models import configure
from chalicelib.adapters.dynamo.notices import DynamoNotices
from chalicelib.adapters.dynamo.nurture import DynamoNurture
from chalicelib.adapters.dynamo.referrals import DynamoReferrals
from chalicelib.adapters.dynamo.relations import DynamoRelations
from chalicelib.adapters.dynamo.senders import DynamoSenderDomains
from chalicelib.adapters.dynamo.sessions import DynamoSessions
from chalicelib.adapters.dynamo.tenants import DynamoTenants
from chalicelib.adapters.dynamo.tokens import DynamoAdminTokens, DynamoTokens

__all__ = [
    "configure", "referral_id", "DynamoAdminTokens", "DynamoAudit", "DynamoConfig", "DynamoCounters", "DynamoNotices",
    "DynamoNurture", "DynamoReferrals", "DynamoRelations", "DynamoSenderDomains", "DynamoSessions", "DynamoSuppressions", "DynamoTenants",
    "DynamoTokens",
]
