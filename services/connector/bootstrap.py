"""The connector's composition root: builds every dependency and runs the service until SIGTERM.

The connector reads Pipedrive and writes events; it consumes no topic. The Pipedrive client, the connect
flow, the scheduler, imports and the webhook receiver join it with the connector issue.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CollectorRegistry

from connector.settings import ConnectorSettings
from postgres_store.pool import check_database, create_pool
from service_runtime.health import add_operational_routes
from service_runtime.logs import configure_logging
from service_runtime.process import install_stop_signals, serve_until_stopped
from stream_runner.producer import EventProducer

SERVICE = "connector"


async def run_service(settings: ConnectorSettings) -> None:
    """Run the connector until SIGTERM or SIGINT, then close its connections."""
    configure_logging(SERVICE, settings.log_level, json=settings.log_json)
    stop = asyncio.Event()
    install_stop_signals(stop)
    pool = await create_pool(settings.database_url.get_secret_value())
    producer = EventProducer(settings.kafka_bootstrap, client_id=SERVICE)
    try:
        await producer.start()
        http = web.Application()
        checks = {"postgres": lambda: check_database(pool), "kafka": producer.check_cluster}
        add_operational_routes(http, checks, CollectorRegistry())
        await serve_until_stopped(http, settings.http_host, settings.http_port, [], stop)
    finally:
        await producer.stop()
        await pool.close()
