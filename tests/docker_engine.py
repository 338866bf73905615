"""Whether a Docker engine answers here (for the testcontainers path of the fixtures)."""

from __future__ import annotations


def docker_engine_available() -> bool:
    """True when the Docker SDK shipped with testcontainers can ping an engine."""
    try:
        import docker  # type: ignore[import-untyped]  # installed with testcontainers

        docker.from_env().ping()
    except Exception:
        return False
    return True
