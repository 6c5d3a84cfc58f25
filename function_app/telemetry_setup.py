"""Application Insights for the sample Function App: traces, metrics and logs through the
Azure Monitor OpenTelemetry distro, when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set.

queued-jobs itself only uses the OpenTelemetry API; this module installs the SDK providers
behind it (``docs/observability-azure.md``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
#: ``true``: the Python worker configures the distro itself, before importing this app.
WORKER_SETTING = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
#: The distro's own setting for the logger it exports; by default, queued-jobs' loggers.
LOGGER_SETTING = "PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME"
LOGGER = "queued_jobs"


def configure_telemetry(environ: Mapping[str, str] | None = None) -> bool:
    """Send the three signals to Application Insights if the app has a connection string;
    nothing is configured without one, or when the worker already configured the distro.
    Says whether this call configured it."""
    environ = os.environ if environ is None else environ
    if not environ.get(CONNECTION_SETTING):
        return False
    if environ.get(WORKER_SETTING, "").lower() == "true":
        return False  # a second configuration would export every record twice
    from azure.monitor.opentelemetry import configure_azure_monitor

    logger_name = environ.get(LOGGER_SETTING, LOGGER)
    # Live metrics keep a connection open to a second endpoint; the portal's Live Metrics
    # page is the only reader. Turn it on with enable_live_metrics=True if you use it.
    configure_azure_monitor(logger_name=logger_name, enable_live_metrics=False)
    # The handler sits on this logger: its INFO lines (one per attempt) must reach it
    # whatever level the worker gives the root logger.
    logger = logging.getLogger(logger_name)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    return True
