"""Type-checked only (mypy --strict): the public API as users write it. Never executed by pytest."""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx
import httpx2
import openai
import requests
from httpx_aiohttp.httpx2 import AiohttpTransport

import router


def sync_usage(payload: dict[str, Any]) -> dict[str, Any]:
    r = router.Router(allow_private_urls=False)
    report: router.Report = r.check(payload, provider="google-vertex")
    ok: bool = report.ok
    for d in report.diagnostics:
        line: int | None = d.line
        rule: str = d.rule
        record: dict[str, Any] = d.to_dict()
        del line, rule, record
    try:
        return r.rewrite(payload, provider=["google-vertex", "google-ai-studio"]) if ok else {}
    except router.RequestRejected as exc:
        diagnostics: list[router.Diagnostic] = exc.diagnostics
        raise router.RouterError(str(diagnostics)) from exc


async def async_usage(payload: dict[str, Any]) -> dict[str, Any]:
    return await router.Router("my-table.yaml").arewrite(payload)


def clients(r: router.Router) -> None:
    httpx.Client(transport=router.RouterTransport(r))
    httpx.Client(transport=router.RouterTransport(r, wrapped=httpx.HTTPTransport(retries=2)))
    httpx.AsyncClient(transport=router.AsyncRouterTransport(r))
    openai.OpenAI(api_key="k", http_client=httpx2.Client(transport=router.Httpx2RouterTransport(r)))
    openai.AsyncOpenAI(api_key="k", http_client=httpx2.AsyncClient(transport=router.AsyncHttpx2RouterTransport(r)))
    aio = router.AsyncHttpx2RouterTransport(r, wrapped=AiohttpTransport())
    openai.AsyncOpenAI(api_key="k", http_client=openai.DefaultAioHttpClient(transport=aio))


def requests_usage(r: router.Router) -> int:
    session = requests.Session()
    session.mount("https://openrouter.ai/", router.RequestsAdapter(r))
    session.mount("https://openrouter.ai/api/", router.RequestsAdapter(r, wrapped=requests.adapters.HTTPAdapter()))
    try:
        response = session.post("https://openrouter.ai/api/v1/chat/completions", json={})
        response.raise_for_status()
        return response.status_code
    except requests.HTTPError as exc:
        return exc.response.status_code if exc.response is not None else 0


async def aiohttp_usage(r: router.Router) -> int:
    async with aiohttp.ClientSession(middlewares=[router.AiohttpMiddleware(r)]) as session:
        try:
            async with session.post("https://openrouter.ai/api/v1/chat/completions", json={}) as response:
                return response.status
        except aiohttp.ClientResponseError as exc:
            return exc.status


def errors() -> None:
    try:
        router.Router("broken.yaml")
    except router.CapabilityError as exc:
        where: str | None = exc.path
        del where
    except router.FetchError as exc:
        transient: bool = exc.transient
        del transient


def notes(r: router.Router, payload: dict[str, Any]) -> list[str]:
    out: router.Outgoing = r.outgoing(payload, dry_run=True)
    said: list[str] = []
    for note in out.notes:
        if isinstance(note, router.Inlined):
            said.append(f"{note.pointer}: {note.size} of {note.cap}")
        elif isinstance(note, router.Routed):
            said.append(",".join(note.providers))
        else:
            refitted: router.Refitted = note
            said.append(refitted.text)
    return said
