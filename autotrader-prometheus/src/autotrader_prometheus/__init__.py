"""autotrader-prometheus: Prometheus metrics for autotrader, built only on the observer hooks.

Install it and every engine whose plugin manager loads entry points exports
metrics on ``http://127.0.0.1:9464/metrics``; or register
:class:`PrometheusObserver` yourself.
"""

from __future__ import annotations

from autotrader_prometheus.labels import reason_code
from autotrader_prometheus.metrics import ExporterMetrics
from autotrader_prometheus.observer import PrometheusObserver
from autotrader_prometheus.server import MetricsServer
from autotrader_prometheus.settings import DEFAULT_PORT, PrometheusSettings

__all__ = [
    "DEFAULT_PORT",
    "ExporterMetrics",
    "MetricsServer",
    "PrometheusObserver",
    "PrometheusSettings",
    "reason_code",
]

__version__ = "0.1.0"
