"""Architecture: in every service, SQL lives only in store modules (`store.py`, `*_store.py`). Handlers,
rules, views, APIs and workers speak to stores (in the services that state their ports, the mapper, the
pusher, the auditlog and the connector, to the ports: only the composition root names the store classes),
so the service tests can run them on in-memory fakes (tests/service) and a query has one place to be read
and changed."""

import ast
import re
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"
WITH_PORTS = ("mapper", "pusher", "auditlog", "connector")
SERVICES_WITH_SQL = ("mapper", "pusher", "auditlog", "connector", "console", "psyncctl")
QUERY_METHODS = {"fetch", "fetchrow", "fetchval", "execute", "executemany", "copy_records_to_table"}
SQL = re.compile(r"\b(SELECT\s|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|ON\s+CONFLICT)")


def _is_store_module(path: Path) -> bool:
    return path.name == "store.py" or path.name.endswith("_store.py")


def _sql_in(path: Path) -> list[str]:
    """What in the module reads or writes a database: query method calls and SQL text."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in QUERY_METHODS:
                found.append(f"line {node.lineno}: .{node.func.attr}()")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"line {node.lineno}: SQL text")
    return found


def test_sql_lives_only_in_store_modules() -> None:
    modules = sorted(SERVICES.glob("*/*.py"))

    offenders = {str(m.relative_to(SERVICES)): _sql_in(m) for m in modules if not _is_store_module(m)}

    assert len(modules) > 150
    assert {name: found for name, found in offenders.items() if found} == {}


def test_every_service_with_ports_states_them_and_has_store_modules() -> None:
    for service in WITH_PORTS:
        package = SERVICES / service

        stores = [m for m in package.glob("*.py") if _is_store_module(m)]

        assert (package / "ports.py").exists(), service
        assert stores and all(_sql_in(m) for m in stores if m.name != "store.py"), service


def test_every_service_that_keeps_data_has_store_modules() -> None:
    for service in SERVICES_WITH_SQL:
        stores = [m for m in (SERVICES / service).glob("*.py") if _is_store_module(m)]

        assert stores and all(_sql_in(m) for m in stores if m.name != "store.py"), service


STILL_TYPED_ON_STORES = {
    "mapper/audiences_api.py",
    "connector/connections_api.py",
    "connector/settings_api.py",
    "connector/webhook_receiver.py",
}
"""Components that still take concrete stores (issue #16); none may be added."""


def _store_imports(path: Path, service: str) -> list[str]:
    """The store modules of its service that a module imports from."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{service}.")):
            continue
        if _is_store_module(Path(node.module.split(".")[-1] + ".py")):
            found.append(node.module)
    return found


def test_components_of_services_with_ports_speak_to_ports_not_stores() -> None:
    offenders = {}
    for service in WITH_PORTS:
        for module in sorted((SERVICES / service).glob("*.py")):
            name = str(module.relative_to(SERVICES))
            if _is_store_module(module) or module.name == "bootstrap.py" or name in STILL_TYPED_ON_STORES:
                continue  # the composition root builds the stores and hands them on as ports
            if imports := _store_imports(module, service):
                offenders[name] = imports

    assert offenders == {}


WRITES = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM)")
PSYNCCTL_USES_OF_SERVICES = {
    "connector.cursor_store", "connector.queued_runs", "connector.run_store",
    "auditlog.activity_read_store", "auditlog.run_views", "auditlog.retry_rules", "auditlog.retry_store",
}  # fmt: skip
"""The owners' code `psyncctl resync` writes the connector's tables through, `psyncctl tenants` reads
and shows the activity log's runs with, and `psyncctl runs retry-failed` reads a run's failed records and
plans their retry with (docs/operations.md)."""


def test_psyncctl_writes_its_own_tables_only_and_others_only_through_their_owners_code() -> None:
    modules = sorted((SERVICES / "psyncctl").glob("*.py"))
    writing: set[str] = set()
    imported: set[str] = set()
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and WRITES.search(node.value):
                writing.add(module.name)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in WITH_PORTS:
                imported.add(node.module)

    assert writing == {"redrive_log_store.py"}
    assert imported == PSYNCCTL_USES_OF_SERVICES
