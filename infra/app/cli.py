"""The ``insitu`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from infra.config import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        print(f"insitu: invalid configuration:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from exc


# -- kafka ----------------------------------------------------------------------------------


def kafka_install(args: argparse.Namespace, settings: Settings) -> int:
    from infra.kafka_dist import ensure_jars, kafka_version

    path = ensure_jars(settings.jars_dir)
    print(f"Kafka {kafka_version()} broker jars in {path}")
    return 0


def kafka_start(args: argparse.Namespace, settings: Settings) -> int:
    if settings.kafka_bootstrap:
        print(f"INSITU_KAFKA_BOOTSTRAP is set; using {settings.kafka_bootstrap}, nothing started")
        return 0
    from infra.broker import BrokerError, EmbeddedBroker

    try:
        print(EmbeddedBroker(settings, brokers=args.brokers).start(timeout=args.timeout))
    except BrokerError as exc:
        print(f"insitu: {exc}", file=sys.stderr)
        return 1
    return 0


def kafka_stop(args: argparse.Namespace, settings: Settings) -> int:
    from infra.broker import EmbeddedBroker

    stopped = EmbeddedBroker(settings).stop()
    print("stopped" if stopped else "not running")
    return 0


def kafka_status(args: argparse.Namespace, settings: Settings) -> int:
    if settings.kafka_bootstrap:
        from infra.broker import _answers

        state = "answering" if _answers(settings.kafka_bootstrap, timeout=5.0) else "not answering"
        print(f"external cluster {settings.kafka_bootstrap}: {state}")
        return 0 if state == "answering" else 1
    from infra.broker import EmbeddedBroker

    broker = EmbeddedBroker(settings)
    status = broker.status()
    print(status)
    if len(broker.nodes) > 1:
        for node, node_status in zip(broker.nodes, broker.node_statuses(), strict=True):
            print(f"  broker {node.node_id}: {node_status}")
    return 0 if status.answering else 1


# -- topics ---------------------------------------------------------------------------------


def topics_create(args: argparse.Namespace, settings: Settings) -> int:
    from infra.kafka_clients import admin
    from infra.topics import create_topics

    reports = create_topics(admin(settings), settings)
    for report in reports:
        print(report)
    return 1 if any(r.status == "differs" for r in reports) else 0


def topics_describe(args: argparse.Namespace, settings: Settings) -> int:
    from infra.kafka_clients import admin
    from infra.topics import CATALOG, describe_topics

    live = describe_topics(admin(settings), settings)
    for spec in CATALOG:
        name = settings.topic(spec.name)
        if name not in live:
            print(f"{name}: missing")
            continue
        info = live[name]
        print(f"{name}: key={spec.key} partitions={info['partitions']}")
        for key in info["overrides"]:
            print(f"  {key}={info['config'][key]}")
    return 0


# -- produce / consume ----------------------------------------------------------------------


def produce(args: argparse.Namespace, settings: Settings) -> int:
    from infra.app.produce import produce_lines
    from infra.kafka_clients import producer
    from infra.topics import spec
    from schemas import Serde

    spec(args.topic)
    report = produce_lines(
        sys.stdin,
        args.topic,
        physical_topic=settings.topic(args.topic),
        producer=producer(settings),
        serde=Serde.from_settings(settings),
    )
    for problem in report.rejected + report.failed:
        print(problem, file=sys.stderr)
    print(f"produced {report.produced} record(s) to {settings.topic(args.topic)}", file=sys.stderr)
    return 0 if report.ok else 1


def consume(args: argparse.Namespace, settings: Settings) -> int:
    from infra.app.consume import read_topic
    from infra.topics import spec
    from schemas import Serde, to_json

    spec(args.topic)
    bad = 0
    for item in read_topic(
        settings,
        args.topic,
        serde=Serde.from_settings(settings),
        from_beginning=args.from_beginning,
        follow=args.follow or not args.from_beginning,
        max_messages=args.max,
        idle_timeout=args.timeout,
    ):
        if item.record is None:
            bad += 1
            where = f"[topic={settings.topic(args.topic)} partition={item.partition} offset={item.offset}]"
            print(item.error or f"{where} tombstone: no value", file=sys.stderr)
            continue
        line = to_json(item.record)
        if args.with_meta:
            key = item.key.decode("utf-8", "replace") if item.key is not None else None
            line = {"partition": item.partition, "offset": item.offset, "key": key, "value": line}
        print(json.dumps(line, sort_keys=False), flush=True)
    if bad:
        print(f"{bad} undecodable message(s) skipped", file=sys.stderr)
    return 0


# -- clickhouse -----------------------------------------------------------------------------


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    from infra import clickhouse

    applied = clickhouse.migrate(clickhouse.connect(settings))
    print("\n".join(f"applied {name}" for name in applied) or "up to date")
    return 0


def query(args: argparse.Namespace, settings: Settings) -> int:
    from infra import clickhouse, queries

    if args.list:
        if args.sql is not None or args.named is not None or args.param:
            msg = "--list takes no SQL, --named or --param"
            raise ValueError(msg)
        catalog = queries.shipped()
        if args.format == "json":
            print("\n".join(json.dumps(record) for record in queries.catalog_records(catalog)))
        else:
            print(queries.describe(catalog))
        return 0
    if (args.sql is None) == (args.named is None):
        msg = "give either SQL or --named NAME (insitu query --list shows the names)"
        raise ValueError(msg)
    params = queries.parse_assignments(args.param)
    named = queries.get_query(args.named) if args.named is not None else None
    bound = named.bind(params) if named is not None else params  # a bad parameter fails before connecting
    client = clickhouse.connect(settings)
    try:
        clickhouse.migrate(client)
        sql = named.body if named is not None else args.sql
        print(clickhouse.run_query(client, sql, fmt=args.format, parameters=bound))
    finally:
        client.close()
    return 0


# -- processes ------------------------------------------------------------------------------


def streams_worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import main as run_worker

    return run_worker([args.loglevel, "--agents", args.agents])


def sink(args: argparse.Namespace, settings: Settings) -> int:
    from streams.sink.__main__ import main as run_sink

    return run_sink()


# -- misc -----------------------------------------------------------------------------------


def config(args: argparse.Namespace, settings: Settings) -> int:
    for name, value in settings.model_dump().items():
        print(f"INSITU_{name.upper()}={'' if value is None else value}")
    return 0


def demo(args: argparse.Namespace, settings: Settings) -> int:
    from infra.app.loop.demo import run_demo

    return run_demo(settings, args.scenario, speed=args.speed, report=args.report)


def up(args: argparse.Namespace, settings: Settings) -> int:
    from infra.app.loop.demo import run_up

    return run_up(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="insitu", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    kafka_cli = sub.add_parser("kafka", help="the embedded Kafka broker (or cluster)")
    kafka = kafka_cli.add_subparsers(dest="action", required=True)
    kafka.add_parser("install", help="resolve the broker jars from Maven Central").set_defaults(handler=kafka_install)
    start = kafka.add_parser("start", help="start the broker; prints the bootstrap address")
    start.add_argument("--timeout", type=float, default=90.0, help="seconds to wait until it answers")
    start.add_argument(
        "--brokers",
        type=int,
        default=None,
        help="nodes of a cluster on this machine (default: as first started, else 1); stop and status cover all",
    )
    start.set_defaults(handler=kafka_start)
    kafka.add_parser("stop", help="stop the broker").set_defaults(handler=kafka_stop)
    kafka.add_parser("status", help="is it running and answering").set_defaults(handler=kafka_status)

    topics = sub.add_parser("topics", help="the topic catalog").add_subparsers(dest="action", required=True)
    topics.add_parser("create", help="create missing topics; report differing ones").set_defaults(handler=topics_create)
    topics.add_parser("describe", help="print live partitions and configs").set_defaults(handler=topics_describe)

    prod = sub.add_parser("produce", help="JSON lines on stdin -> validated Avro records on TOPIC")
    prod.add_argument("topic")
    prod.set_defaults(handler=produce)

    cons = sub.add_parser("consume", help="decode TOPIC and print JSON lines")
    cons.add_argument("topic")
    cons.add_argument("--from-beginning", action="store_true", help="start at the earliest offset")
    cons.add_argument("--follow", action="store_true", help="keep waiting for new messages")
    cons.add_argument("--max", type=int, default=None, help="stop after N messages")
    cons.add_argument("--timeout", type=float, default=None, help="stop after S seconds without a message")
    cons.add_argument("--with-meta", action="store_true", help="wrap each record with partition, offset and key")
    cons.set_defaults(handler=consume)

    worker = sub.add_parser("streams", help="run a streams worker (join, metrics, profiles, router)")
    worker.add_argument("--loglevel", default="warning", choices=["debug", "info", "warning", "error"])
    worker.add_argument("--agents", default="join,metrics,profiling,router", help="groups of agents to run")
    worker.set_defaults(handler=streams_worker)
    sub.add_parser("sink", help="run the analytics sink (the one ClickHouse writer)").set_defaults(handler=sink)

    sub.add_parser("migrate", help="apply ClickHouse migrations").set_defaults(handler=migrate)
    q = sub.add_parser("query", help="run SQL or a named query on the analytics store and print the result")
    q.add_argument("sql", nargs="?", help="the SQL to run (or use --named)")
    q.add_argument("--named", metavar="NAME", help="run the named query NAME shipped with insitu")
    q.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a value for the query's {KEY:Type} placeholder (repeatable)",
    )
    q.add_argument("--list", action="store_true", help="list the named queries with their parameters")
    q.add_argument("--format", choices=["table", "json"], default="table")
    q.set_defaults(handler=query)

    from infra.app.command_cli import add_commands as add_operator_commands

    add_operator_commands(sub)
    from infra.app.command_key_cli import add_commands as add_command_key_commands

    add_command_key_commands(sub)
    from infra.app.worker_cli import add_commands as add_worker_commands

    add_worker_commands(sub)
    sub.add_parser("config", help="print the configuration, secrets redacted").set_defaults(handler=config)
    d = sub.add_parser("demo", help="run the closed loop on a scenario's traffic, then write its report")
    d.add_argument("--scenario", default="agrawal", help="a shipped scenario's name or a scenario JSON file")
    d.add_argument("--speed", type=float, default=1.0, help="phases last 1/SPEED as long")
    d.add_argument("--report", type=Path, default=None, help="report folder (default: the run's folder/report)")
    d.set_defaults(handler=demo)
    sub.add_parser("up", help="start broker, topics, streams worker, sink and workers; Ctrl-C stops").set_defaults(
        handler=up
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args, _settings())
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line for the operator, not a traceback
        print(f"insitu: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
