"""The PromQL that SREs rely on: alerts, autoscaling triggers and the Grafana dashboard.

Read from the sources under k8s/components, so a test can hold every query
against the metrics the services declare (tests/unit/test_k8s.py) and the ones
a running system really exports (tests/e2e/test_system.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from tests.conftest import ROOT

COMPONENTS = ROOT / "k8s" / "components"
DASHBOARD = COMPONENTS / "monitoring" / "dashboards" / "skinscan.json"
# Labels Prometheus adds to every scraped series (target labels), never a service.
TARGET_LABELS = {"namespace", "pod", "job", "instance", "service", "container", "endpoint"}
_SELECTOR = re.compile(r"(skinscan_[a-z_]+)(\{[^}]*\})?")
_EXACT = re.compile(r'([a-zA-Z_]+)\s*=\s*"([^"]*)"')


@dataclass(frozen=True)
class Query:
    where: str  # "alert X", "panel Y", "scaler Z"
    expr: str


def _yaml_documents(path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((COMPONENTS / path).read_text()) if d]


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def queries() -> list[Query]:
    found = []
    for rules in _yaml_documents("monitoring/alerts.yaml"):
        for group in rules["spec"]["groups"]:
            found += [Query(f"alert {r['alert']}", r["expr"]) for r in group["rules"]]
    for scaled in _yaml_documents("keda/scaled-objects.yaml"):
        if scaled["kind"] != "ScaledObject":
            continue
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] == "prometheus":
                name = scaled["metadata"]["name"]
                found.append(Query(f"scaler {name}", trigger["metadata"]["query"]))
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            found.append(Query(f"panel {panel['title']!r}", target["expr"]))
    return found


def references(expr: str) -> list[tuple[str, dict[str, str]]]:
    """Each skinscan metric an expression reads, with its exact (=) label matchers."""
    return [
        (name, dict(_EXACT.findall(selector or ""))) for name, selector in _SELECTOR.findall(expr)
    ]
