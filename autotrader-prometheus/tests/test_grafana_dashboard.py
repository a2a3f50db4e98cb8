"""The shipped Grafana dashboard only queries metrics the exporter really exports."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

from autotrader_prometheus.metrics import ExporterMetrics

METRIC = re.compile(r"\b(autotrader_[a-z0-9_]+)\b")
# The series names each metric family type produces in the text exposition format.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
    "stateset": ("",),
}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (files("autotrader_prometheus") / "grafana" / "dashboard.json").read_text(encoding="utf-8")
    )
    return data


def exported_series() -> set[str]:
    names: set[str] = set()
    for family in ExporterMetrics().registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def queries(data: dict[str, Any]) -> list[tuple[str, str]]:
    found = [
        (panel["title"], target["expr"]) for panel in data["panels"] for target in panel.get("targets", [])
    ]
    found += [(f"variable {v['name']}", v["definition"]) for v in data["templating"]["list"]]
    return found


def test_every_panel_queries_a_metric_the_exporter_exports() -> None:
    data = dashboard()
    exported = exported_series()
    assert data["panels"], "the dashboard has panels"
    for panel in data["panels"]:
        names = {m for target in panel["targets"] for m in METRIC.findall(target["expr"])}
        assert names, f"panel {panel['title']!r} queries no autotrader metric"
    unknown = [
        (where, name)
        for where, expr in queries(data)
        for name in METRIC.findall(expr)
        if name not in exported
    ]
    assert unknown == []


def test_the_checker_would_catch_a_renamed_metric() -> None:
    # The check itself must be able to fail: a stale name is not among the exported series.
    exported = exported_series()
    assert "autotrader_fills_total" in exported and "autotrader_trading_state" in exported
    assert "autotrader_fills" not in exported  # a counter is queried with its _total suffix
    assert "autotrader_fill_latency_seconds_bucket" in exported


def test_dashboard_is_importable_grafana_json() -> None:
    data = dashboard()
    assert data["uid"] and data["title"] == "autotrader"
    assert [i["name"] for i in data["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [panel["id"] for panel in data["panels"]]
    assert len(ids) == len(set(ids))
    for panel in data["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert (
            set(panel["gridPos"]) == {"x", "y", "w", "h"}
            and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        )
        assert all(t["refId"] for t in panel["targets"])
