"""The public surface: every name in ``router.__all__`` resolves, and ``import router`` stays light."""

from __future__ import annotations

import subprocess
import sys

import router

HEAVY = ("httpx", "httpx2", "requests", "urllib3", "aiohttp", "av", "pypdf", "litellm", "uvicorn", "starlette",
         "prometheus_client")  # fmt: skip


def test_every_public_name_resolves_from_router() -> None:
    missing = [name for name in router.__all__ if getattr(router, name, None) is None]
    assert missing == []


def test_public_submodules_load_on_first_use() -> None:
    # router.litellm needs its extra, which the CI's LiteLLM step installs and tests.
    for name in ("fit", "transport", "cli"):
        assert getattr(router, name).__name__ == f"router.{name}"


def test_import_router_loads_no_http_machinery_media_or_plugins() -> None:
    code = f"import sys, router; print(sorted(set({HEAVY!r}) & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_checking_a_payload_needs_no_http_machinery() -> None:
    code = (
        "import sys, router; from router import Router; "
        "Router().check({'model': 'google/gemini-2.5-flash', 'messages': []}); "
        f"print(sorted(set({HEAVY!r}) & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
