"""OpenRouter's public catalogue on 127.0.0.1, built from the 2026-08 snapshot in tests/data plus known changes.

Routes, under ``/api/v1``: ``GET /models?output_modalities=all``, ``GET /models/{author}/{slug}/endpoints``
(the path each model's ``links.details`` names) and ``GET /providers``. Who serves each video model comes from
the bundled table (a ``google-vertex`` provider also gets a ``google-vertex/us-east5`` endpoint, a region).

The changes against the bundled data, which the tests expect to see after a refresh:

- ``acme/vision-2``: a new video model, served by ``acme-cloud`` (a provider the table has no rules for,
  listed by /providers as "Acme Cloud") and by a Vertex region;
- ``moonshotai/kimi-k3``: its endpoints changed, only ``moonshotai/int4`` is left (the Alibaba one is gone);
- ``google/gemini-2.5-flash``: gains service-tier endpoints ``google-vertex/global/flex`` and ``google-ai-studio/flex``.

Knobs: ``throttle = N`` answers each path's first N requests with 429 (``Retry-After: retry_after``);
``broken = {path, ...}`` answers those paths (or ``"*"``) with 503 (``Retry-After: 0``) forever;
``documents[path] = body`` answers that path 200 with ``body`` instead (JSON, or ``bytes`` sent as text/html:
the wrong answers a stand-in or a captive portal gives); ``hits`` counts requests by path.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SNAPSHOT = Path(__file__).resolve().parent / "data" / "openrouter-models-2026-08.json"
NEW_MODEL = "acme/vision-2"
CHANGED_MODEL = "moonshotai/kimi-k3"
TIERED_MODEL = "google/gemini-2.5-flash"
UNKNOWN_PROVIDER = "acme-cloud"
EXTRA_PROVIDERS = {"acme-cloud": "Acme Cloud", "openai": "OpenAI", "deepinfra": "DeepInfra"}


def _details(model: Mapping[str, Any]) -> str:
    link: str = model["links"]["details"]
    return link.rsplit("/models/", 1)[1].removesuffix("/endpoints")


def build(served_by: Mapping[str, tuple[str, ...]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The three documents: ``/models``, endpoints by ``author/slug`` path, ``/providers``.

    ``served_by`` maps a model id to the provider slugs serving it (the bundled table's ``providers``)."""
    models = copy.deepcopy(json.loads(SNAPSHOT.read_text(encoding="utf-8")))
    models["data"].insert(
        0,
        {
            "id": NEW_MODEL,
            "canonical_slug": f"{NEW_MODEL}-20261120",
            "name": "Acme: Vision 2",
            "created": int(time.time()),
            "architecture": {"input_modalities": ["text", "image", "video"], "output_modalities": ["text"]},
            "links": {"details": f"/api/v1/models/{NEW_MODEL}-20261120/endpoints"},
        },
    )
    endpoints: dict[str, Any] = {}
    for model in models["data"]:
        if "video" not in model["architecture"]["input_modalities"]:
            continue
        tags: list[str] = []
        for slug in served_by.get(model["id"], ()):
            tags += [slug, f"{slug}/us-east5"] if slug == "google-vertex" else [slug]
        if model["id"] == NEW_MODEL:
            tags = [UNKNOWN_PROVIDER, "google-vertex/us-east5"]
        elif model["id"] == CHANGED_MODEL:
            tags = ["moonshotai/int4"]
        elif model["id"] == TIERED_MODEL:
            tags += ["google-vertex/global/flex", "google-ai-studio/flex"]
        path = _details(model)
        known = endpoints.setdefault(path, {"data": {"id": model["id"], "endpoints": []}})["data"]["endpoints"]
        for tag in tags:
            if all(e["tag"] != tag for e in known):
                known.append({"name": f"{tag} | {model['id']}", "provider_name": tag.split("/")[0], "tag": tag})
    slugs = {s for providers in served_by.values() for s in providers if "/" not in s}
    names = {s: s.replace("-", " ").title() for s in sorted(slugs)} | EXTRA_PROVIDERS
    providers = [{"slug": s, "name": n} for s, n in names.items()]
    return models, endpoints, {"data": providers}


class FakeCatalogue:
    """The catalogue server; ``base_url`` is what ``router models --refresh --base-url`` takes."""

    def __init__(self, served_by: Mapping[str, tuple[str, ...]]) -> None:
        self.models, self.endpoints, self.providers = build(served_by)
        self.throttle = 0
        self.retry_after = "0"
        self.broken: set[str] = set()
        self.documents: dict[str, Any] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v1"

    def start(self) -> FakeCatalogue:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.hits[path] += 1
            count = self.hits[path]
        if "*" in self.broken or path in self.broken:
            return 503, {"Retry-After": "0"}, {"error": {"code": 503, "message": "down for maintenance"}}
        if count <= self.throttle:
            return 429, {"Retry-After": self.retry_after}, {"error": {"code": 429, "message": "slow down"}}
        if path in self.documents:
            return 200, {}, self.documents[path]
        if path == "/api/v1/models":
            return 200, {}, self.models
        if path == "/api/v1/providers":
            return 200, {}, self.providers
        if path.startswith("/api/v1/models/") and path.endswith("/endpoints"):
            found = self.endpoints.get(path.removeprefix("/api/v1/models/").removesuffix("/endpoints"))
            if found is not None:
                return 200, {}, found
        return 404, {}, {"error": {"code": 404, "message": "not found"}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body = fake._answer(urlsplit(self.path).path)
                html = isinstance(body, bytes)
                data = body if html else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if html else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read ``hits``."""

        return Handler
