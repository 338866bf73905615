"""The command line: `psyncctl <verb> ...` (console script) or `python -m psyncctl <verb> ...`.

Exit status: 0 done, 1 failed (Kafka or PostgreSQL unreachable, ...), 2 bad arguments, 3 refused (the
message says why and what to do). Every verb that writes takes `--dry-run`; every verb takes `--json`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError

from psyncctl.context import Context, Refused, Report, Unreachable
from psyncctl.dead_letters import DeadLetterFilter
from psyncctl.output import print_report
from psyncctl.positions import BadArgument, parse_start, parse_time
from psyncctl.settings import CtlSettings
from schemas.events.common import SyncObject
from schemas.topics import CONSUMER_SERVICES
from service_runtime.logs import configure_logging
from service_runtime.settings import settings_from_environment

Command = Callable[[Context, argparse.Namespace], Awaitable[Report]]

_EPILOG = (
    "Kafka and PostgreSQL come from KAFKA_BOOTSTRAP and DATABASE_URL; schemas, groups and the auditlog URL"
    " from PSYNCCTL_* (see psyncctl/settings.py). Runbook: docs/operations.md."
)


def _now() -> datetime:
    return datetime.now(UTC)


def _file_bytes(path: Path) -> bytes:
    """A file the command line names; BadArgument when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as failure:
        raise BadArgument(f"cannot read {path}: {failure.strerror or failure}") from failure


def _common(*, under_a_group: bool = False) -> argparse.ArgumentParser:
    """`--json`; a sub-verb's (`dlq list`) leaves the group's (`dlq --json list`) as it is when not given."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if under_a_group else False,
        help="print the result as JSON",
    )
    return common


def _positive(text: str) -> int:
    """A count given on the command line: a whole number of at least 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _writes() -> argparse.ArgumentParser:
    writes = argparse.ArgumentParser(add_help=False)
    writes.add_argument("--dry-run", action="store_true", help="show what would be done, change nothing")
    return writes


def _dlq_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--service",
        action="append",
        choices=CONSUMER_SERVICES,
        default=[],
        help="only this service's DLQ (repeatable)",
    )
    parser.add_argument("--tenant", help="only this tenant's dead letters (the key's first part)")
    parser.add_argument("--error-class", help="only this dlq.error.class, e.g. ContractViolation")
    parser.add_argument("--since", help="failed at or after: ISO 8601 time or an age (30m, 6h, 2d)")
    parser.add_argument("--until", help="failed before: ISO 8601 time or an age")


def _filter(args: argparse.Namespace, refs: Sequence[str] = ()) -> DeadLetterFilter:
    now = _now()
    since = parse_time(args.since, now) if args.since else None
    until = parse_time(args.until, now) if args.until else None
    if since is not None and until is not None and until <= since:
        raise BadArgument(
            f"--until {args.until} is not after --since {args.since}: no dead letter can match"
            " (an age counts back from now: --since 2d --until 1d)"
        )
    return DeadLetterFilter(
        tenant=args.tenant, error_class=args.error_class, since=since, until=until, refs=frozenset(refs)
    )


def build_parser() -> argparse.ArgumentParser:
    """Every verb, with its help."""
    common, writes, sub_common = _common(), _writes(), _common(under_a_group=True)
    parser = argparse.ArgumentParser(
        prog="psyncctl",
        description="Operate the Pipedrive <-> ABM sync: lag, replays, dead letters, resyncs.",
        epilog=_EPILOG,
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    tenants_p = verbs.add_parser(
        "tenants",
        parents=[common],
        help="tenants and their status",
        description="List tenants (connection, budget spent today, open runs, last run, parked pushes),"
        " or show one.",
    )
    tenant_verbs = tenants_p.add_subparsers(dest="tenants_verb", metavar="list|show")
    tenant_verbs.add_parser("list", parents=[sub_common], help="every tenant with its status (the default)")
    show = tenant_verbs.add_parser(
        "show",
        parents=[sub_common],
        help="one tenant: connection, budget, runs, parked pushes, pending messages",
    )
    show.add_argument("tenant")
    show.add_argument(
        "--scan-limit",
        type=_positive,
        default=20_000,
        help="messages read per partition to count the tenant's pending ones (default 20000)",
    )

    lag_p = verbs.add_parser(
        "lag",
        parents=[common],
        help="consumer lag per group, topic and partition",
        description="Committed offset, end offset and lag of every partition a group reads.",
    )
    lag_p.add_argument(
        "groups", nargs="*", metavar="GROUP", help="groups to show (default: the services' groups)"
    )
    lag_p.add_argument("--all", action="store_true", help="every consumer group of the cluster")
    lag_p.add_argument("--nonzero", action="store_true", help="only partitions with lag")

    replay_p = verbs.add_parser(
        "replay",
        parents=[common, writes],
        help="replay a topic for one group (or one tenant's messages)",
        description="Move GROUP's offsets of --topic back to --from (the group must have no members: stop the"
        " service first; psyncctl stops nothing). The old offsets are saved to a file and the undo command"
        " printed. With --tenant no offset moves: that tenant's messages of the range are produced to the"
        " topic again, and the groups that applied them drop them by id (inbox).",
    )
    replay_p.add_argument("group")
    replay_p.add_argument(
        "--topic",
        required=True,
        action="append",
        help="a topic the group reads; give it again for more (source changes: psync.source-changes.v1"
        " and psync.bulk-source-changes.v1)",
    )
    replay_p.add_argument("--partition", type=int, help="only this partition (default: all)")
    replay_p.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="TIME|OFFSET",
        help="an offset, an ISO 8601 time or an age (6h)",
    )
    replay_p.add_argument("--tenant", help="re-produce only this tenant's messages of the range")
    replay_p.add_argument(
        "--save-dir", type=Path, default=Path("."), help="where the old offsets are saved (default: .)"
    )

    restore = verbs.add_parser(
        "restore-offsets",
        parents=[common, writes],
        help="put back the offsets a replay saved",
        description="Undo a replay: commit the offsets saved in FILE (the group must have no members).",
    )
    restore.add_argument("file", type=Path)

    dlq_p = verbs.add_parser(
        "dlq",
        parents=[common],
        help="dead letters: list, show, redrive",
        description="The services' dead-letter topics (psync.<service>.dlq).",
    )
    dlq_verbs = dlq_p.add_subparsers(dest="dlq_verb", required=True, metavar="list|show|redrive")
    dlq_list = dlq_verbs.add_parser("list", parents=[sub_common], help="dead letters matching the filters")
    _dlq_filters(dlq_list)
    dlq_list.add_argument("--limit", type=_positive, default=200, help="at most this many rows (default 200)")
    dlq_show = dlq_verbs.add_parser("show", parents=[sub_common], help="one dead letter: headers, key, value")
    dlq_show.add_argument("ref", help="<dlq topic>:<partition>:<offset> as `dlq list` prints it")
    dlq_redrive = dlq_verbs.add_parser(
        "redrive",
        parents=[sub_common, writes],
        help="produce dead letters back to their origin topic",
        description="Produce the named or matching dead letters to their dlq.origin.topic with the same key"
        " and event id, without the dlq.* headers, and record each in psyncctl.redrives. Dead letters"
        " re-driven before are skipped unless --again.",
    )
    dlq_redrive.add_argument("refs", nargs="*", metavar="REF", help="dead letters by reference")
    _dlq_filters(dlq_redrive)
    dlq_redrive.add_argument(
        "--all", action="store_true", help="every dead letter (when no ref or filter narrows)"
    )
    dlq_redrive.add_argument("--again", action="store_true", help="also those re-driven before")
    dlq_redrive.add_argument(
        "--value-file", type=Path, help="a fixed value (JSON, same event id) for the one named dead letter"
    )
    dlq_redrive.add_argument("--actor", help="who re-drives, recorded (default: the login name)")

    resync_p = verbs.add_parser(
        "resync",
        parents=[common, writes],
        help="the connector reads a tenant again from a time",
        description="Move the tenant's read positions back to --since, forget the versions emitted since, and"
        " queue a sync: the records are emitted again with their event ids. Refused while a run of the"
        " tenant is running or paused.",
    )
    resync_p.add_argument("tenant")
    resync_p.add_argument("--since", required=True, help="ISO 8601 time or an age (2d)")
    resync_p.add_argument(
        "--objects",
        nargs="+",
        choices=[o.value for o in SyncObject],
        default=[o.value for o in SyncObject],
        help="objects to read again (default: all)",
    )
    runs_p = verbs.add_parser(
        "runs",
        parents=[common],
        help="runs: show one as the console does, retry its failed records",
        description="A run of the activity log: show it as the console does, or retry its failed records.",
    )
    run_verbs = runs_p.add_subparsers(dest="runs_verb", required=True, metavar="show|retry-failed")
    show_run = run_verbs.add_parser(
        "show",
        parents=[sub_common],
        help="one run as the console shows it (status, counts, tokens, why, links)",
        description="RUN_ID from the activity log, read with the auditlog's own code: its status is the"
        " console's (finishing while its records' results are still to come).",
    )
    show_run.add_argument("run_id")
    show_run.add_argument("--tenant", help="the run's tenant, when run ids of several tenants collide")
    retry = run_verbs.add_parser(
        "retry-failed",
        parents=[sub_common, writes],
        help="retry a run's failed records (the auditlog's retry API)",
        description="Ask the auditlog to retry the failed records of RUN_ID (POST /v1/runs/{id}/retry, with a"
        " one-call key of the run's tenant, revoked right after, and X-Psync-Actor).",
    )
    retry.add_argument("run_id")
    retry.add_argument("--tenant", help="the run's tenant, when run ids of several tenants collide")
    retry.add_argument("--actor", help="who retries, sent as X-Psync-Actor (default: the login name)")
    return parser


# The command modules are imported when used: `--help` and the Kafka-only verbs start faster.


async def _runs(context: Context, args: argparse.Namespace) -> Report:
    from psyncctl import runs

    if args.runs_verb == "show":
        return await runs.show_run(context, args.run_id, args.tenant)
    return await runs.retry_failed(context, args.run_id, args.tenant, args.actor, args.dry_run)


async def _tenants(context: Context, args: argparse.Namespace) -> Report:
    from psyncctl import tenants

    if args.tenants_verb == "show":
        return await tenants.show_tenant(context, args.tenant, args.scan_limit)
    return await tenants.list_tenants(context)


async def _lag(context: Context, args: argparse.Namespace) -> Report:
    from psyncctl import lag

    return await lag.show_lag(context, args.groups, args.all, args.nonzero)


async def _replay(context: Context, args: argparse.Namespace) -> Report:
    from psyncctl import replay

    start = parse_start(args.start, _now())
    if args.tenant:
        return await replay.replay_tenant(
            context, args.group, args.topic, args.partition, start, args.tenant, args.dry_run
        )
    return await replay.replay_group(
        context, args.group, args.topic, args.partition, start, args.save_dir, args.dry_run
    )


async def _restore(context: Context, args: argparse.Namespace) -> Report:
    from psyncctl import replay

    return await replay.restore_offsets(context, args.file, args.dry_run)


async def _dlq(context: Context, args: argparse.Namespace) -> Report:
    from psyncctl import dlq

    if args.dlq_verb == "show":
        return await dlq.show_dead_letter(context, args.ref)
    if args.dlq_verb == "list":
        return await dlq.list_dead_letters(context, args.service, _filter(args), args.limit)
    fixed = _file_bytes(args.value_file) if args.value_file else None
    return await dlq.redrive(
        context,
        args.service,
        _filter(args, args.refs),
        everything=args.all,
        again=args.again,
        fixed_value=fixed,
        actor=args.actor,
        dry_run=args.dry_run,
    )


async def _resync(context: Context, args: argparse.Namespace) -> Report:
    from psyncctl import resync

    objects = [SyncObject(o) for o in args.objects]
    now = _now()
    since = parse_time(args.since, now)
    if since > now:
        raise BadArgument(f"--since {args.since} is in the future: give a past time or an age (2d)")
    return await resync.resync(context, args.tenant, since, objects, args.dry_run)


COMMANDS: dict[str, Command] = {
    "tenants": _tenants,
    "lag": _lag,
    "replay": _replay,
    "restore-offsets": _restore,
    "dlq": _dlq,
    "resync": _resync,
    "runs": _runs,
}


async def run(args: argparse.Namespace, settings: CtlSettings) -> Report:
    """Carry out one parsed command."""
    context = Context(settings)
    try:
        return await COMMANDS[args.verb](context, args)
    finally:
        await context.close()


async def execute(argv: Sequence[str], settings: CtlSettings, out: TextIO, err: TextIO) -> int:
    """Parse and run one command line, print its report to `out` (problems to `err`); the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as parsed:  # --help, or bad arguments (argparse has printed why)
        return int(parsed.code or 0)
    try:
        report = await run(args, settings)
    except BadArgument as bad:
        print(f"psyncctl: {bad}", file=err)
        return 2
    except Refused as refused:
        print(f"psyncctl: refused: {refused}", file=err)
        return 3
    except KafkaConnectionError as failure:
        print(
            f"psyncctl: Kafka at KAFKA_BOOTSTRAP ({settings.kafka_bootstrap}) cannot be reached:"
            f" {failure}; check KAFKA_BOOTSTRAP and that Kafka is up",
            file=err,
        )
        return 1
    except Unreachable as unreachable:
        print(f"psyncctl: {unreachable}", file=err)
        return 1
    except (OSError, TimeoutError, KafkaError, asyncpg.PostgresError) as failure:
        print(f"psyncctl: {type(failure).__name__}: {failure}", file=err)
        return 1
    print_report(report, as_json=args.json, out=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run the command line with the settings of the environment."""
    configure_logging("psyncctl", "WARNING", json=False)  # the libraries' logs on stderr, stdout is ours
    settings = settings_from_environment(CtlSettings)  # unusable settings: says which, exits 2
    return asyncio.run(execute(sys.argv[1:] if argv is None else argv, settings, sys.stdout, sys.stderr))
