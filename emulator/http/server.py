"""Run the emulated portal: load a dataset, start live activity if asked, serve over HTTP(S).
The one place the HTTP face meets `emulator.data` (what fills the portal).

The one line that shows the webhook URL with its secret is printed once on start, to stdout, so the
operator can copy it; every other line (access log included) shows the secret as `***`.
"""

import asyncio
import contextlib
import logging
import secrets
import sys
from dataclasses import dataclass

import uvicorn

from emulator.data.datasets import load_dataset
from emulator.data.live import LiveActivity
from emulator.http.app import create_app
from emulator.http.control import apply_config
from emulator.portal.portal import Portal


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    dataset: str = "demo"
    scale: float = 1.0
    seed: int = 42
    live: bool = False
    live_interval: float = 3.0
    secret: str | None = None
    timezone: str = "Europe/Moscow"
    rate_limit: bool = True
    rate: float = 2.0
    burst: int = 50
    operating_limit: bool = True
    operating_limit_seconds: float = 480.0
    tls_cert: str | None = None
    tls_key: str | None = None
    access_log: bool = False


def webhook_url(options: ServerOptions, secret: str) -> str:
    scheme = "https" if options.tls_cert else "http"
    return f"{scheme}://{options.host}:{options.port}/rest/1/{secret}/"


def serve(options: ServerOptions) -> None:
    secret = options.secret or secrets.token_hex(12)
    portal = Portal(secret=secret, timezone=options.timezone)
    apply_config(
        portal,
        {
            "rate_limit": {
                "enabled": options.rate_limit,
                "rate": options.rate,
                "burst": options.burst,
            },
            "operating_limit": {
                "enabled": options.operating_limit,
                "limit_seconds": options.operating_limit_seconds,
            },
        },
    )
    summary = load_dataset(portal, options.dataset, scale=options.scale, seed=options.seed)
    live = LiveActivity(portal, options.live_interval)
    app = create_app(portal, load_dataset, live)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("emulator.access").setLevel(
        logging.INFO if options.access_log else logging.WARNING
    )
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        access_log=False,  # uvicorn's access line would carry the secret; ours redacts it
        log_level="warning",
        ssl_certfile=options.tls_cert,
        ssl_keyfile=options.tls_key,
        lifespan="off",
        # nginx's default before a real portal, not uvicorn's 5 s: with 5 s a client that
        # reuses a connection idle for about that long races the server closing it
        # (ConnectionResetError seen in the property test's control call, clean-clone CI)
        timeout_keep_alive=75,
        # a client that holds a request open (fast_bitrix24's aiohttp session, never closed)
        # held every stop for uvicorn's unbounded wait, then the launcher's 10 s kill
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.02)
        if server.started:
            if options.live:
                live.start()
            url = webhook_url(options, secret)
            counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in summary.items())
            print(f"Bitrix24 emulator: dataset {options.dataset} ({counts})", flush=True)
            print(f"Webhook URL: {url}", flush=True)
            print(
                f"Control: {url.split('/rest/')[0]}/_emulator/"
                " (clock, reset, faults, stats, config, live, events, health, records);"
                " Ctrl+C stops",
                flush=True,
            )
        await serving
        await live.aclose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    if not server.started:
        sys.exit(f"emulator: could not listen on {options.host}:{options.port}")
