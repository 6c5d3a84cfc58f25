"""OpenTelemetry SDK providers with in-memory exporters, for tests: never the global ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from queued_jobs.telemetry import Telemetry


@dataclass
class Recorded:
    """A :class:`Telemetry` whose spans and metrics are kept in memory."""

    spans: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)

    def __post_init__(self) -> None:
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.telemetry = Telemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def finished(self, name_prefix: str = "") -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name.startswith(name_prefix)]

    def metrics(self) -> dict[str, list[tuple[Mapping[str, Any], Any]]]:
        """Each metric's points: (attributes, value), a histogram's value its data point."""
        found: dict[str, list[tuple[Mapping[str, Any], Any]]] = {}
        data = self.reader.get_metrics_data()
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points = found.setdefault(metric.name, [])
                    for point in metric.data.data_points:
                        value = getattr(point, "value", point)
                        points.append((dict(point.attributes or {}), value))
        return found

    def total(self, name: str, **attributes: str) -> float:
        """The sum of a counter's points whose attributes include ``attributes``."""
        return sum(
            value
            for attrs, value in self.metrics().get(name, [])
            if all(attrs.get(k) == v for k, v in attributes.items())
        )
