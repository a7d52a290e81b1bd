"""Cost per 1,000 rejections from the measured counts and durations, at list prices (us-east-1).

Per rejection:
  Lambda requests  = 1 webhook + enrich invocations (0 for a complete delivery) + 1 notice send
                     (one invocation per notice: the dearest case; SQS batches of 10 would share one)
  Lambda GB-s      = (API function GB x webhook p50 ms + notice function GB x notice ms per message) / 1000,
                     each function's memory as the stack deploys it (infra/sizes.py)
  DynamoDB         = (WRU of a new event + WRU of a notice) x WRU price
                     + (RRU of a new event + RRU of a notice) x RRU price
  SQS              = messages queued per new event x 3 requests (send, receive, delete)
  SES              = mails per notice x price per mail
  USD per 1,000    = 1000 x (sum of the above)
Durations are this machine's against the embedded endpoint: in AWS, network calls to DynamoDB are
slower and CPU per Lambda at 256 MB is a fraction of a core, so treat the Lambda part as a floor."""
from __future__ import annotations

from infra import sizes  # the memory sizes the stack deploys: priced as deployed, never typed twice

PRICES = {
    "region": "us-east-1",
    "as_of": "list prices, 2024-11 (DynamoDB on-demand after the Nov 2024 cut)",
    "lambda_usd_per_gb_s": 0.0000166667,        # x86
    "lambda_usd_per_request": 0.20 / 1_000_000,
    # memory: per function, from infra/sizes.py (the stack's own figures)
    "lambda_memory_gb": {name: mb / 1024 for name, mb in sizes.MEMORY_MB.items()},
    "dynamodb_usd_per_write_request_unit": 0.625 / 1_000_000,
    "dynamodb_usd_per_read_request_unit": 0.125 / 1_000_000,
    "sqs_usd_per_request": 0.40 / 1_000_000,     # standard queue
    "ses_usd_per_email": 0.10 / 1000,
}


def per_rejection(ingest: dict, enrich_invocations: float = 0.0) -> dict:
    """USD per rejection, by part, from bench.ingest's answer."""
    p, notice = PRICES, ingest["notice"]
    lambda_requests = 1 + enrich_invocations + 1
    memory_gb = p["lambda_memory_gb"]
    gb_s = (memory_gb["api_handler"] * ingest["webhook"]["p50_ms"]
            + memory_gb["send_notices"] * notice["ms_per_notice"]) / 1000
    wru = ingest["write_units_per_new_event"] + notice["write_units"]
    rru = ingest["read_units_per_new_event"] + notice["read_units"]
    sqs_messages = ingest["calls_per_new_event"].get("sqs.SendMessage", 0) + enrich_invocations
    parts = {
        "lambda": lambda_requests * p["lambda_usd_per_request"] + gb_s * p["lambda_usd_per_gb_s"],
        "dynamodb": wru * p["dynamodb_usd_per_write_request_unit"] + rru * p["dynamodb_usd_per_read_request_unit"],
        "sqs": sqs_messages * 3 * p["sqs_usd_per_request"],
        "ses": notice["ses_mails_per_notice"] * p["ses_usd_per_email"],
    }
    return {"parts_usd_per_1000": {k: round(v * 1000, 6) for k, v in parts.items()},
            "usd_per_1000_rejections": round(sum(parts.values()) * 1000, 6),
            "inputs": {"lambda_requests": lambda_requests, "lambda_gb_s": round(gb_s, 6), "write_units": wru,
                       "read_units": rru, "sqs_requests": sqs_messages * 3, "ses_emails": notice["ses_mails_per_notice"]}}
