import ast
from pathlib import Path

import sync_rules

FORBIDDEN = {
    "asyncio",
    "aiohttp",
    "asyncpg",
    "aiokafka",
    "faust",
    "socket",
    "requests",
    "os",
    "time",
    "random",
}
PACKAGE = Path(sync_rules.__file__).parent


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_rule_module_imports_io_or_clocks() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))

    offenders = {str(m.relative_to(PACKAGE)): _imported_roots(m) & FORBIDDEN for m in modules}

    assert len(modules) > 10
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_rule_module_reads_the_clock() -> None:
    sources = {m.name: m.read_text() for m in PACKAGE.rglob("*.py")}

    assert [name for name, text in sources.items() if ".now(" in text or ".today(" in text] == []


SERVICES = Path(__file__).resolve().parents[3] / "services"
PLANNING_MAY_IMPORT = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "functools",
    "itertools",
    "math",
    "re",
    "typing",
    "schemas",
    "sync_rules",
    "frozen_values",
}
"""What a service's planning module may import: the standard library's pure modules, the contracts, the rule
book and the frozen values it is made of. A planning module decides from values; its service loads them and
carries the plan out."""


def test_every_planning_module_decides_from_values_only() -> None:
    modules = sorted(SERVICES.glob("*/planning.py"))

    offenders = {str(m.relative_to(SERVICES)): _imported_roots(m) - PLANNING_MAY_IMPORT for m in modules}

    assert len(modules) >= 2
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_planning_module_reads_the_clock() -> None:
    sources = {str(m.relative_to(SERVICES)): m.read_text() for m in SERVICES.glob("*/planning.py")}

    assert [name for name, text in sources.items() if ".now(" in text or ".today(" in text] == []


def test_every_rule_module_of_a_service_imports_no_io_and_reads_no_clock() -> None:
    """The rule book's rule, for the rules a service keeps itself: its planning and its `*_rules.py`."""
    modules = sorted([*SERVICES.glob("*/planning.py"), *SERVICES.glob("*/*_rules.py")])

    offenders = {str(m.relative_to(SERVICES)): _imported_roots(m) & FORBIDDEN for m in modules}
    clocks = [
        str(m.relative_to(SERVICES))
        for m in modules
        if ".now(" in m.read_text() or ".today(" in m.read_text()
    ]

    assert len(modules) >= 4
    assert {name: found for name, found in offenders.items() if found} == {}
    assert clocks == []
