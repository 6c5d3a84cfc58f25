"""Count the HTTP requests Azure SDK clients make.

Tables take it as a pipeline policy (``per_call_policies=[counter]``); the blob and queue
SDKs build their own pipelines and take it as ``raw_request_hook=counter``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy


class RequestCounter(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """``counter.total`` counts every request of the clients it was given to."""

    def __init__(self) -> None:
        super().__init__()
        self.by_method: Counter[str] = Counter()

    def on_request(self, request: PipelineRequest[Any]) -> None:
        self.by_method[request.http_request.method] += 1

    def __call__(self, request: PipelineRequest[Any]) -> None:
        self.on_request(request)

    @property
    def total(self) -> int:
        return sum(self.by_method.values())

    def reset(self) -> None:
        self.by_method.clear()
