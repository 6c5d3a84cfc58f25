"""The OpenTelemetry SDK the traced figures run with: spans through a batch processor (as
``configure_azure_monitor()`` and ``opentelemetry-instrument`` set them up) to an in-memory
exporter, metrics to an in-memory reader, and the library's log filter on every line."""

from __future__ import annotations

from functools import cache

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from queued_jobs.telemetry import Telemetry

__all__ = ["install_global_sdk", "local_telemetry"]


def _providers() -> tuple[TracerProvider, MeterProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    return tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()]), exporter


@cache
def local_telemetry() -> Telemetry:
    """Telemetry on providers of its own (the process's global ones stay unset: the
    figures measured beside it are untraced), for the jobs queued before a traced drain."""
    tracer_provider, meter_provider, _ = _providers()
    return Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)


def install_global_sdk() -> InMemorySpanExporter:
    """Set the SDK up as an application does: the global providers (a traced worker)."""
    tracer_provider, meter_provider, exporter = _providers()
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    return exporter
