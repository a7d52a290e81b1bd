"""Publishing KPIs to CloudWatch as embedded metric format (Powertools), dimension `tenant`.

EphemeralMetrics keeps these apart from the request metrics that the Chalice middleware flushes."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.kpis import FUNNEL, RATES

NAMESPACE = "RelationsHub"


def publish(tenant: str, kpis: dict[str, Any]) -> int:
    """Emit the KPIs of one tenant; returns how many values were published."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics(namespace=NAMESPACE, service="relations-hub")
    metrics.add_dimension(name="tenant", value=tenant)
    published = 0
    values = {"RelationsRetained": (kpis.get("relations_retained"), MetricUnit.Count),
              "BrandPerception": (kpis.get("brand_perception"), MetricUnit.NoUnit)}
    values.update({_camel(name): (kpis.get(name), MetricUnit.NoUnit) for name in RATES})
    values.update({"CareerRelay" + _camel(name): (kpis["career_relay"].get(name), MetricUnit.Count) for name in FUNNEL})
    for name, (value, unit) in values.items():
        if value is not None:
            metrics.add_metric(name=name, unit=unit, value=value)
            published += 1
    metrics.flush_metrics()
    return published


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
