"""``router serve``: the proxy's settings from the environment and the command line, then the proxy itself (the
``serve`` extra)."""

from __future__ import annotations

import argparse
import os
from typing import IO

from .common import UsageError, base_url_of, router_for

__all__ = ["cmd_serve"]


def cmd_serve(args: argparse.Namespace, out: IO[str]) -> int:
    try:  # deferred: only `serve` needs the server, and it is an extra
        from .._proxy.serve import LOOPBACK_HOSTS, ProxySettings, ServerOptions, is_loopback, parse_size, serve
    except ImportError as exc:
        raise UsageError(f"router serve needs the serve extra ({exc}): pip install 'router[serve]'") from None
    import dataclasses

    if args.workers < 1 or args.backlog < 1 or (args.max_upstream is not None and args.max_upstream < 1):
        raise UsageError("--workers, --backlog and --max-upstream take a positive number")
    try:
        settings = ProxySettings.from_env()
        refresh = settings.refresh_every if args.refresh_every is None else args.refresh_every * 3600
        hosts = args.allowed_host or (None if "ROUTER_ALLOWED_HOSTS" in os.environ else ())
        changes: dict[str, object] = {
            "base_url": base_url_of(args),
            "capabilities": tuple(args.capabilities),
            "allow_private_urls": args.allow_private_urls or settings.allow_private_urls,
            "access_token": args.access_token or settings.access_token,
            "lend_key_to_network": args.lend_key_to_network or settings.lend_key_to_network,
            "refresh_every": refresh,
            "refresh_catalogue": args.refresh_catalogue or settings.refresh_catalogue,
            "fit": args.fit or settings.fit,
        }
        if hosts is not None:
            changes["allowed_hosts"] = tuple(hosts) or (LOOPBACK_HOSTS if is_loopback(args.host) else ("*",))
        if args.allowed_origin:
            changes["allowed_origins"] = tuple(args.allowed_origin)
        if args.max_body_size is not None:
            changes["max_body_size"] = parse_size(args.max_body_size)
        if args.max_upstream is not None:
            changes["max_upstream"] = args.max_upstream
        if args.queue_timeout is not None:
            changes["queue_timeout"] = args.queue_timeout
        if args.body_timeout is not None:
            changes["body_timeout"] = args.body_timeout
        settings = dataclasses.replace(settings, **changes)  # type: ignore[arg-type]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # A broken capability table stops here, as FILE:LINE. The catalogue is the upstream's when that is OpenRouter
    # (or --refresh-catalogue says so), else OpenRouter's as bundled or cached, never refreshed from a stand-in.
    catalogue_url, every = settings.catalogue()
    router = router_for(args, refresh_every=every, base_url=catalogue_url)
    options = ServerOptions(
        workers=args.workers,
        backlog=args.backlog,
        header_timeout=args.header_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        grace_period=args.grace_period,
        drain_delay=args.drain_delay,
    )
    try:
        single = router if args.workers == 1 else None  # workers load their own
        return serve(single, args.host, args.port, out=out, settings=settings, options=options)
    except OSError as exc:  # the port is taken, or the host is not ours
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
