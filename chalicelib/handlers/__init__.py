"""AWS event shapes in, service calls, AWS response shapes out; no business rules here."""
