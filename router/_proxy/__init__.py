"""The ``router serve`` proxy, in small parts; the public face is :mod:`router.serve`.

settings.py    ProxySettings: what the app needs (upstream, limits, who may use it), from code or environment
guard.py       pure checks on one request: path normalisation, Host and Origin allow-lists, the access token
metrics.py     Prometheus metrics with a per-app registry (and the multiprocess collector under --workers)
access.py      one request's record: counted in the metrics, written as an access line
asgi.py        the ASGI types, the proxy's own answers (OpenRouter's error shape), the request body spooled
app.py         the ASGI application: probes, the request's checks, upstream cap, forwarding, drain
forward.py     relaying the upstream's answer, watching for vanished clients; upstream.py, aio.py the upstream
               client (httpx pools, aiohttp)
server.py      uvicorn underneath: header timeout, readiness-aware drain, one serving process
supervisor.py  --workers: worker processes on one socket, restarted when they die
threaded.py    ProxyServer: a bound proxy serving in a thread (make_server)
serve.py       ``serve()``: the process around the app (bind, signals, workers, logging)

May import ``_transports`` and every part below it; never ``_litellm`` or ``_cli``.
"""
