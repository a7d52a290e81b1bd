"""Inbound sources: ATS, HR systems and unified APIs that tell the hub about endings."""
