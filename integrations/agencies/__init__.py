"""Outbound partners: recruitment agencies that receive consented referrals."""
