"""Read the mail the local hub sent (the embedded SES keeps it): `python tools/mailbox.py`."""
from __future__ import annotations

import argparse
import email
import email.policy
import os
import re

import requests


def messages(endpoint: str) -> list[email.message.EmailMessage]:
    """Every message the embedded SES holds, oldest first."""
    data = requests.get(f"{endpoint}/moto-api/data.json", timeout=60).json()
    return parse_raw(m["raw_data"] for m in data.get("ses", {}).get("RawMessage", []))


def parse_raw(texts) -> list[email.message.EmailMessage]:
    return [email.message_from_string(text, policy=email.policy.default) for text in texts]


def links(message) -> dict[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return {"relay": next(iter(re.findall(r"https?://\S+/r/[\w.-]+", text)), None),
            "unsubscribe": next(iter(re.findall(r"https?://\S+/u/[\w.-]+", text)), None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"))
    args = parser.parse_args()
    for message in messages(args.endpoint):
        print(f"To: {message['To']}\nSubject: {message['Subject']}\nList-Unsubscribe: {message['List-Unsubscribe']}")
        for name, url in links(message).items():
            print(f"{name}: {url}")
        print()


if __name__ == "__main__":
    main()
