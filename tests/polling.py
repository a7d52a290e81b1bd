"""Polling a source the way the hub does, for the polled sources' tests."""
from __future__ import annotations


def poll_pages(module, api, cursor=None, *, now, max_pages=10, tenant="acme"):
    """Page after page until the source says there is no more (or asks for a pause)."""
    pages = []
    for _ in range(max_pages):
        page = module.poll(api, cursor, tenant=tenant, now=now)
        pages.append(page)
        cursor = page.cursor
        if not page.more or page.wait_s:
            break
    return pages
