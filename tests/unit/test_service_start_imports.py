"""What a service process does not do before it serves: import libraries only some paths need (imported on
first use), collect cyclic garbage while it imports (each costs every start of every service process CPU:
about 80 starts in a test run); and that a start that waits collects garbage meanwhile."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.ports import free_port

SERVICES = ("connector", "mapper", "pusher", "auditlog", "console")
# email_validator: at the first email address (sync_rules.emails); tldextract and requests: at the first
# website domain (sync_rules.domains); rich: never off a terminal (service_runtime.without_rich).
NOT_AT_START = ("email_validator", "tldextract", "requests", "rich")


def test_the_service_entry_points_import_none_of_the_libraries_left_for_later() -> None:
    code = (
        "import importlib, sys\n"
        f"for service in {SERVICES!r}:\n"
        "    importlib.import_module(service + '.__main__')\n"
        f"print(sorted(m for m in {NOT_AT_START!r} if sys.modules.get(m) is not None))\n"
    )
    # Standard error a pipe, as a service's is under a supervisor or in a container.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_the_garbage_collector_is_paused_while_a_service_starts_and_runs_once_it_serves() -> None:
    code = (
        "import gc\n"
        "import mapper.__main__\n"
        "from service_runtime.process import tune_garbage_collection\n"
        "print(gc.isenabled())\n"
        "tune_garbage_collection()  # what serve_until_stopped calls once the service serves\n"
        "print(gc.isenabled(), gc.get_threshold()[0], gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "100000", "True"]


def test_a_service_waiting_for_its_database_collects_garbage_meanwhile() -> None:
    # PostgreSQL not there: the start waits (create_pool retries for a minute) with the collector on,
    # what it imported frozen. The first retry's warning reports and ends the process.
    code = (
        "import service_runtime.process_start\n"
        "import gc, os\n"
        "import stream_runner.reachability\n"
        "class Watch:\n"
        "    def warning(self, event, **fields):\n"
        "        print(event, gc.isenabled(), gc.get_freeze_count() > 0, flush=True)\n"
        "        os._exit(0)\n"
        "stream_runner.reachability._log = Watch()\n"
        "from mapper.__main__ import main\n"
        "main()\n"
    )
    nobody = f"postgresql://psync:psync@127.0.0.1:{free_port()}/psync"
    env = {**os.environ, "DATABASE_URL": nobody, "MAPPER_HTTP_PORT": str(free_port())}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["dependency_not_reachable_yet", "True", "True"], done.stderr[-2000:]


def test_an_email_address_is_still_normalized_in_a_fresh_process() -> None:
    code = (
        "from sync_rules.emails import normalize_email, try_normalize_email\n"
        "print(normalize_email(' Jane.Doe@GMAIL.com ').address, try_normalize_email('not an address'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["jane.doe@gmail.com", "None"]


def test_the_public_suffix_list_loaded_while_starting_leaves_nothing_for_the_first_domain() -> None:
    # The mapper and the pusher call load_public_suffix_list while they assemble (before they serve).
    code = (
        "import sys\n"
        "from sync_rules import domains\n"
        "domains.load_public_suffix_list()\n"
        "loaded = set(sys.modules)\n"
        "print(domains._suffix_trie.cache_info().currsize, domains.normalize_domain('https://www.Acme.co.uk/x'))\n"
        "print(sorted(set(sys.modules) - loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["1 acme.co.uk", "[]"], done.stdout
