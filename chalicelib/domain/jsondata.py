"""The one name for JSON data in the domain.

A `JsonObject` is a decoded JSON object: an admin request's body, a stored record, a timeline entry,
a vendor's or SES's notification. Its values are whatever JSON holds and are checked where they are
read (the readers raise BadRequest or PayloadError), so their static type is `Any` here, once."""
from __future__ import annotations

from typing import Any, TypeAlias

JsonObject: TypeAlias = dict[str, Any]
