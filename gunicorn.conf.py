"""gunicorn settings for civicdesk; every value can be overridden on the command line or by GUNICORN_CMD_ARGS."""

import multiprocessing
import os

from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

bind = os.environ.get("CIVICDESK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("CIVICDESK_WORKERS", min(4, multiprocessing.cpu_count() * 2)))
threads = int(os.environ.get("CIVICDESK_THREADS", 2))
timeout = 30
accesslog = None  # the app writes its own structured request log


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)
