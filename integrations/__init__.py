"""Outside systems: one module per vendor, knowing its wire format and nothing about AWS."""
