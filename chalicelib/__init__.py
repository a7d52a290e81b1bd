"""The relations hub: domain, use cases and AWS adapters (shipped to Lambda by Chalice)."""
