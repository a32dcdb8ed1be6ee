"""The ``router serve`` proxy, in small parts; the public face is :mod:`router.serve`.

settings.py  ProxySettings: what the app needs (upstream, limits, who may use it), from code or environment
guard.py     pure checks on one request: path normalisation, Host and Origin allow-lists, the access token
metrics.py   Prometheus metrics with a per-app registry (and the multiprocess collector under --workers)
app.py       the ASGI application: probes, body spool, upstream cap, forwarding, vanished clients, drain
server.py    uvicorn underneath: header timeout, readiness-aware drain, --workers supervisor, thread handle
forward.py   relaying the upstream's answer; upstream.py, aio.py the upstream client (httpx pools, aiohttp)
serve.py     ``serve()``: the process around the app (bind, signals, workers, logging)

May import ``_transports`` and every part below it; never ``_litellm`` or ``_cli``.
"""
