"""What Lambda does and `chalice local` does not: poll the SQS queues into their consumers and
fire the schedules, calling the very handler functions Lambda calls.

`make run` runs it in a process of its own (`python -m tools.local_runner`, `main`), so that a stop
never waits for a job: SIGTERM stops it between batches and jobs, and cuts short a batch or job that
is running (as Lambda's timeout would). What was cut short is redone by its next run: its queue
records come back when their visibility ends, and every effect of a handler is once-only.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from chalice.app import Cron, Rate, ScheduledEventConfig
from chalice.local import LambdaContext

_SECONDS = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400}


def rate_seconds(expression: Any, *, cap_s: float) -> float:
    """How often to fire a schedule locally: its own rate, but at least every cap_s seconds."""
    if isinstance(expression, Rate):
        return min(expression.value * _SECONDS[expression.unit], cap_s)
    if isinstance(expression, (Cron, str)):
        return cap_s  # cron and raw expressions: locally, every cap_s
    return cap_s


@dataclass
class QueueBinding:
    """An SQS queue and the name of the app function Lambda's event-source mapping calls."""

    queue_url: str
    function_name: str
    batch_size: int = 10


@dataclass
class LocalRunner:
    app_module: ModuleType                     # the imported app.py
    sqs: Any                                   # boto3 SQS client on the local endpoint
    queues: list[QueueBinding] = field(default_factory=list)
    schedule_cap_s: float = 60.0
    retry_after_s: int = 2                     # locally, failed records come back quickly
    on_error: Callable[[str, BaseException], None] = lambda name, error: None
    _next_due: dict[str, float] = field(default_factory=dict)
    busy: str | None = None                    # the function running now, if any

    def schedules(self) -> list[ScheduledEventConfig]:
        return [s for s in self.app_module.app.event_sources if isinstance(s, ScheduledEventConfig)]

    def _context(self, name: str) -> LambdaContext:
        return LambdaContext(function_name=name, memory_size=128, max_runtime_ms=60_000)

    def _call(self, name: str, function: Callable[..., Any], *args: Any) -> Any:
        self.busy = name
        try:
            return function(*args)
        finally:
            self.busy = None

    def drain_once(self, stop: threading.Event | None = None) -> int:
        """Deliver one batch from each queue, until stop is set; returns how many records were handed over."""
        handed = 0
        for binding in self.queues:
            if stop is not None and stop.is_set():
                break
            answer = self.sqs.receive_message(QueueUrl=binding.queue_url, MaxNumberOfMessages=binding.batch_size,
                                              WaitTimeSeconds=0, AttributeNames=["All"])
            messages = answer.get("Messages", [])
            if not messages:
                continue
            handed += len(messages)
            event = {"Records": [{
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs", "eventSourceARN": binding.queue_url, "awsRegion": "us-east-1",
            } for m in messages]}
            function = getattr(self.app_module, binding.function_name)
            try:
                result = self._call(binding.function_name, function, event, self._context(binding.function_name)) or {}
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            except Exception as error:  # noqa: BLE001 - as Lambda: the whole batch comes back
                self.on_error(binding.function_name, error)
                failed = {m["MessageId"] for m in messages}
            for message in messages:
                if message["MessageId"] in failed:
                    self.sqs.change_message_visibility(QueueUrl=binding.queue_url, ReceiptHandle=message["ReceiptHandle"],
                                                       VisibilityTimeout=self.retry_after_s)
                else:
                    self.sqs.delete_message(QueueUrl=binding.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return handed

    def fire_due(self, now: float | None = None, stop: threading.Event | None = None) -> list[str]:
        """Run every schedule whose time has come, until stop is set; returns their names."""
        now = time.monotonic() if now is None else now
        fired = []
        for schedule in self.schedules():
            if stop is not None and stop.is_set():
                break
            due = self._next_due.setdefault(schedule.name, now)
            if now < due:
                continue
            self._next_due[schedule.name] = now + rate_seconds(schedule.schedule_expression, cap_s=self.schedule_cap_s)
            event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
                     "account": "000000000000", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "region": "us-east-1", "resources": [f"local:{schedule.name}"], "detail": {}}
            handler = getattr(self.app_module, schedule.handler_string.split(".")[-1])
            try:
                self._call(schedule.name, handler, event, self._context(schedule.name))
            except Exception as error:  # noqa: BLE001 - a failed run is retried at its next time
                self.on_error(schedule.name, error)
            fired.append(schedule.name)
        return fired

    def run(self, stop: threading.Event, poll_s: float = 0.2) -> None:
        while not stop.is_set():
            handed = self.drain_once(stop)
            self.fire_due(stop=stop)
            if not handed:
                stop.wait(poll_s)


def stop_on_sigterm(runner: LocalRunner, stop: threading.Event) -> None:
    """SIGTERM sets stop; a batch or job running then is cut short (SystemExit in the main thread,
    where handlers run), so the process ends within moments whatever it was doing."""
    def on_sigterm(_signum: int, _frame: object) -> None:
        stop.set()
        if runner.busy is not None:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)


def main() -> int:
    """The runner of `make run`, in its own process: the queues' URLs and the endpoint come from the
    environment tools/local_hub.py sets."""
    import os

    import boto3

    import app as app_module
    from chalicelib.adapters import resources
    from chalicelib.observability import logger

    bindings = [QueueBinding(os.environ[resources.queue_env(name)], spec["consumer"], spec["batch_size"])
                for name, spec in resources.QUEUES.items()]
    runner = LocalRunner(app_module=app_module, sqs=boto3.client("sqs"), queues=bindings,
                         schedule_cap_s=float(os.environ.get("HUB_LOCAL_SCHEDULE_SECONDS", "60")),
                         on_error=lambda name, error: logger.error("local run failed",
                                                                   extra={"function": name, "error": type(error).__name__}))
    stop = threading.Event()
    stop_on_sigterm(runner, stop)
    with contextlib.suppress(SystemExit):  # SIGTERM cut a batch or a job short
        runner.run(stop)
    return 0


if __name__ == "__main__":
    from tools.local_hub import exit_now

    exit_now(main())
