"""Every outside system the hub speaks to. The key is the vendor's slug everywhere: the URL
segment, the secret path, the fixture folder, the metric dimension."""
from integrations.sources import greenhouse, standard

SOURCES = {m.NAME: m for m in (greenhouse, standard)}  # push: POST /webhooks/{tenant}/{slug}
POLLED: dict = {}                                      # pull: polled on a schedule with a stored cursor
AGENCIES: dict = {}
