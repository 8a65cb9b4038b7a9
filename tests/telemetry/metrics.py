"""Reads what the app's instruments recorded, through the OpenTelemetry SDK's in-memory
reader (no exporter, no network)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared import telemetry


@dataclass(frozen=True)
class Point:
    name: str
    attributes: dict[str, Any]
    value: Any  # a number (sum, gauge) or (count, sum) of a histogram


class Recorded:
    def __init__(self, reader: InMemoryMetricReader) -> None:
        self.reader = reader

    def points(self) -> list[Point]:
        data = self.reader.get_metrics_data()
        found: list[Point] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = (
                            (point.count, point.sum)
                            if hasattr(point, "bucket_counts")
                            else point.value
                        )
                        found.append(Point(metric.name, dict(point.attributes), value))
        return found

    def named(self, name: str) -> list[Point]:
        return [point for point in self.points() if point.name == name]


@contextmanager
def recording() -> Iterator[Recorded]:
    """The app's instruments record into an in-memory reader for the block."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    telemetry.use_meter_provider(provider)
    try:
        yield Recorded(reader)
    finally:
        telemetry.use_meter_provider(None)
        provider.shutdown()
