"""Prometheus metrics at ``/metrics``: request counts and latencies by endpoint.

Under gunicorn (``PROMETHEUS_MULTIPROC_DIR`` set) every worker writes its samples to that directory and any
worker can answer a scrape with the sum; elsewhere each app gets a registry of its own.
"""

from __future__ import annotations

import os

from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

EXCLUDED = ["/metrics", "/healthz", "/readyz", "/api/docs", "/api/openapi.json"]


def init_metrics(app: Flask) -> PrometheusMetrics:
    options = {"group_by": "endpoint", "excluded_paths": EXCLUDED, "defaults_prefix": "civicdesk"}
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return GunicornInternalPrometheusMetrics(app, **options)
    return PrometheusMetrics(app, registry=CollectorRegistry(), **options)
