"""``python -m benchmarks.web_server SPEC PORT KEYS``: the web API of the benchmarked app on
uvicorn, counting its storage requests, with two routes of the benchmark's own beside it:
``/bench/counts`` (storage requests and feed reads so far) and ``/bench/floor`` (a fixed
job-sized JSON answer, no authentication, no storage: the floor the same server sets)."""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

from queued_jobs.web import create_web_app
from queued_jobs.web.auth import ApiKey, ApiKeys, Authentication

from .app import make_app
from .requests import RequestKinds

_FLOOR_BODY: dict[str, Any] = {"id": "0" * 29, "status": "queued", "padding": "x" * 1400}


def build(spec: dict[str, Any], keys: list[dict[str, Any]]) -> FastAPI:
    counter = RequestKinds(spec["connection"]) if spec["backend"] == "azure" else None
    app = make_app(spec, client_options=None if counter is None else counter.hooks())
    auth = Authentication([ApiKeys(ApiKey.from_json(entry) for entry in keys)])
    api = create_web_app(app, auth=auth)
    outer = FastAPI()

    @outer.get("/bench/counts")
    async def counts() -> dict[str, int]:
        hub = api.state.runtime._hub
        return {
            "requests": 0 if counter is None else sum(counter.ever.values()),
            "feed_reads": 0 if hub is None else hub.reads,
        }

    @outer.get("/bench/floor")
    async def floor() -> dict[str, Any]:
        return _FLOOR_BODY

    outer.mount("/", api)
    return outer


def main() -> None:
    spec, port, keys = json.loads(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    uvicorn.run(build(spec, keys), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
