"""Readiness probe for the local Kafka broker, used by deploy/local/kafka.sh.

An open port only says the socket listens; a metadata request answered with at least one broker says the
broker serves clients. Exit status 0 when it does, 1 otherwise.

    python deploy/local/kafka_probe.py 127.0.0.1:19092 [--timeout 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient


async def probe(bootstrap: str, timeout_s: float) -> str:
    """Return a one-line description of the cluster; raise when the broker does not answer in time."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    brokers = cluster.get("brokers") or []
    if not brokers:
        raise RuntimeError("metadata response lists no brokers")
    cluster_id, controller = cluster.get("cluster_id"), cluster.get("controller_id")
    return f"cluster {cluster_id}: {len(brokers)} broker(s), controller {controller}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("bootstrap")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    try:
        print(asyncio.run(probe(args.bootstrap, args.timeout)))
    except Exception as exc:  # any failure means "not ready"; the message helps when run by hand
        print(f"not ready: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
