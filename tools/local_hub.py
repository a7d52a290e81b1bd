"""`make run`: the whole hub on one machine, no cloud account.

Starts the embedded AWS endpoint (moto server) on 127.0.0.1:$AWS_PORT, creates the table and
queues from the definitions the code uses, seeds tenant `default` (its settings go through the
same sender registration as PUT .../settings: moto verifies the domain at once), serves the app
with `chalice local` on 127.0.0.1:$HUB_PORT, and runs the local runner for queues and schedules.
Ctrl-C or SIGTERM stops everything it started.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".local"
SAMPLE = ROOT / "tests" / "fixtures" / "sources" / "greenhouse" / "reject_candidate.json"


def local_env(aws_endpoint: str, hub_port: int) -> dict[str, str]:
    """The environment the app runs with locally (the same names infra/ sets in AWS)."""
    return {
        "AWS_ENDPOINT_URL": aws_endpoint, "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "HUB_STAGE": "local", "HUB_TABLE": os.environ.get("HUB_TABLE", "relations-hub-local"),
        "HUB_ADMIN_TOKEN": os.environ.get("HUB_ADMIN_TOKEN") or "local-" + secrets.token_urlsafe(18),
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
        "HUB_NOTICE_DELAY_SECONDS": os.environ.get("HUB_NOTICE_DELAY_SECONDS", "2"),
        "HUB_AGENCY_PARALLELISM": "1",  # the embedded moto backend is not thread-safe
        "POWERTOOLS_SERVICE_NAME": "relations-hub", "POWERTOOLS_METRICS_NAMESPACE": "RelationsHub",
    }


SANDBOX = None  # the sandbox agency on loopback, started by main()

SAMPLE_SETTINGS = {
    "company_name": "サンプル株式会社 (local)", "sender_email": "careers@example.com",
    "postal_address": "〒100-0001 東京都千代田区千代田1-1 (sample)", "contact": "careers@example.com",
    "default_locale": "ja", "mail_transport": "ses",
}


def seed_default_tenant() -> dict[str, str]:
    """Give tenant `default` sample mail settings and connect it to every webhook source; secrets
    from HUB_SECRET_<SOURCE> or fresh ones."""
    from chalicelib import wiring
    from integrations.registry import SECRET_FORMATS, SOURCES

    hub = wiring.hub()
    hub.configuration.put_settings("default", SAMPLE_SETTINGS)
    seeded = {"sandbox_agency": SANDBOX.url}
    hub.agencies.put_agency("default", "sandbox", {
        "name": "Sandbox Agency (sandbox, not a real agency)", "legal_name": "Sandbox Agency (local sandbox)",
        "country": "JP", "endpoint": SANDBOX.url, "auth": {"type": "standard_webhooks", "secret": SANDBOX.secret},
        "data_items": ["name", "email", "desired_roles"], "batch_size": 10, "referrals_per_slot": 10, "sandbox": True})
    for name in SOURCES:
        secret = os.environ.get(f"HUB_SECRET_{name.upper()}")
        if not secret:
            secret = SECRET_FORMATS[name].new_secret() if name in SECRET_FORMATS else "local-" + secrets.token_hex(16)
        hub.intake.connect_source("default", name, secret)
        seeded[name] = secret
    STATE.mkdir(exist_ok=True)
    (STATE / "secrets.json").write_text(json.dumps(seeded, indent=2))
    return seeded


def sample_command(hub_url: str, secret: str) -> str:
    """A curl command that posts a Greenhouse rejection signed with the seeded secret."""
    from integrations.sources import greenhouse

    delivery = json.loads(json.loads(SAMPLE.read_text(encoding="utf-8"))["body"])
    application = delivery["payload"]["application"]
    # rejected just now, so it earns a notice (old facts are not announced out of the blue)
    application["rejected_at"] = application["last_activity_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = json.dumps(delivery, ensure_ascii=False, indent=2).encode()
    STATE.mkdir(exist_ok=True)
    sample = STATE / "sample-rejection.json"
    sample.write_bytes(body)
    signature = greenhouse.sign(body, secret)["Signature"]
    return (f"curl -sS -X POST {hub_url}/webhooks/default/greenhouse -H 'Content-Type: application/json' "
            f"-H 'Signature: {signature}' --data-binary @{sample.relative_to(ROOT)}")


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"chalice local exited with {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the hub did not answer at {url} within {timeout_s} s")


def main() -> int:
    from moto.server import ThreadedMotoServer

    aws_port = int(os.environ.get("AWS_PORT", "4566"))
    hub_port = int(os.environ.get("HUB_PORT", "8000"))
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
    moto.start()
    aws_endpoint = f"http://127.0.0.1:{moto._server.server_port}"
    env = local_env(aws_endpoint, hub_port)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    from tools.local_aws import provision

    global SANDBOX
    from tools.sandbox_agency import SandboxAgency
    SANDBOX = SandboxAgency(secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()).start()
    queue_env = provision()
    os.environ.update(queue_env)
    env.update(queue_env)
    seeded = seed_default_tenant()
    chalice = subprocess.Popen(
        [str(Path(sys.executable).parent / "chalice"), "local", "--host", "127.0.0.1", "--port", str(hub_port),
         "--stage", "local", "--no-autoreload"],
        cwd=ROOT, env={**os.environ, **env}, stdout=sys.stdout, stderr=sys.stderr)
    stop = threading.Event()

    def shut_down(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, shut_down)
    signal.signal(signal.SIGTERM, shut_down)
    try:
        hub_url = f"http://127.0.0.1:{hub_port}"
        wait_until_up(f"{hub_url}/health", chalice)
        print_banner(hub_url, aws_endpoint, env["HUB_ADMIN_TOKEN"], seeded)
        run_runner(stop)
    finally:
        chalice.terminate()
        try:
            chalice.wait(timeout=10)
        except subprocess.TimeoutExpired:
            chalice.kill()
        moto.stop()
        SANDBOX.stop()
        print("relations hub stopped", flush=True)
    return 0


def run_runner(stop: threading.Event) -> None:
    import boto3

    import app as app_module
    from chalicelib.adapters import resources
    from chalicelib.observability import logger
    from tools.local_runner import LocalRunner, QueueBinding

    bindings = [QueueBinding(os.environ[resources.queue_env(name)], spec["consumer"], spec["batch_size"])
                for name, spec in resources.QUEUES.items()]
    runner = LocalRunner(app_module=app_module, sqs=boto3.client("sqs"), queues=bindings,
                         schedule_cap_s=float(os.environ.get("HUB_LOCAL_SCHEDULE_SECONDS", "60")),
                         on_error=lambda name, error: logger.error("local run failed",
                                                                   extra={"function": name, "error": type(error).__name__}))
    runner.run(stop)


def print_banner(hub_url: str, aws_endpoint: str, admin_token: str, seeded: dict[str, str]) -> None:
    lines = [
        "",
        "relations hub is running (local stage, tenant 'default')",
        f"  hub:            {hub_url}   (health: {hub_url}/health)",
        f"  AWS endpoint:   {aws_endpoint}   (moto: DynamoDB, SQS, SES, Secrets Manager, CloudWatch)",
        f"  admin token:    {admin_token}",
        f"  source secrets: greenhouse={seeded['greenhouse']}, standard={seeded['standard']}",
        f"                  (all {len(seeded) - 1} webhook sources are connected; every secret is in .local/secrets.json)",
        f"  sandbox agency: {seeded['sandbox_agency']}/referrals   (a local stand-in for a partner agency)",
        "",
        "send a signed sample rejection:",
        "  " + sample_command(hub_url, seeded["greenhouse"]),
        "read the mail it sent (with the Career Relay link):",
        f"  {sys.executable} tools/mailbox.py --endpoint {aws_endpoint}",
        "send consented referrals to the sandbox agency now (hourly on its own):",
        f"  curl -sS -X POST -H 'Authorization: Bearer {admin_token}' {hub_url}/admin/tenants/default/jobs/agency_batch",
        "then look the person up:",
        f"  curl -sS -H 'Authorization: Bearer {admin_token}' "
        f"'{hub_url}/admin/tenants/default/people?email=hector.porter.265788@example.com'",
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
