"""Side effects done once per key (a mail, an agency call), with Powertools idempotency on the
hub's table: an INPROGRESS record while it runs, the result kept for the dedupe window, so a
redelivered queue message gets the stored result instead of a second side effect."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamo.keys import once_pk
from chalicelib.domain.errors import RetryableError

KEEP_RESULTS_S = 35 * 24 * 3600


class PowertoolsOnce:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name
        self._context = None

    def register(self, context: object) -> None:
        """The Lambda context of the running invocation: an in-progress record then expires when the
        invocation would have timed out, so a crashed attempt does not block the retry."""
        self._context = context

    @property
    def _client(self):
        # the models' DynamoDB client: one botocore session and one loaded service model per process
        from chalicelib.adapters.dynamo.models import connection
        return connection().client

    def run(self, tenant: str, key: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

        store = DynamoDBPersistenceLayer(table_name=self._table_name, key_attr="pk", sort_key_attr="sk",
                                         static_pk_value=once_pk(tenant), expiry_attr="expires_at",
                                         boto3_client=self._client)
        config = IdempotencyConfig(expires_after_seconds=KEEP_RESULTS_S, use_local_cache=False)
        if self._context is not None:
            config.register_lambda_context(self._context)

        @idempotent_function(data_keyword_argument="key", persistence_store=store, config=config)
        def once(key: str) -> dict:
            return action()

        try:
            return once(key=key)
        except IdempotencyAlreadyInProgressError:
            raise RetryableError("the same side effect is under way elsewhere") from None
