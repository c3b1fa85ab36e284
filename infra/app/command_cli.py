"""``insitu rollback|pin|unpin|freeze|unfreeze``: signed commands on the ``commands`` topic.

Each command is signed with ``INSITU_COMMAND_KEY`` (id ``INSITU_COMMAND_KEY_ID``), sent with
an idempotent acks=all producer, and — unless ``--wait 0`` — followed by its result from
``command.results``. Exit status: 0 accepted (or sent, without waiting), 1 rejected or not
sent, 3 no result within ``--wait`` seconds.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
import uuid
from typing import Any

from confluent_kafka import KafkaError, TopicPartition
from pydantic import ValidationError

from infra.commands import CommandSettings, new_command, sign, target
from infra.config import Settings
from infra.kafka_clients import consumer, producer
from infra.topics import message_key
from schemas import Serde, SerializationError

NO_RESULT = 3


def add_commands(subparsers: Any) -> None:
    """Add rollback, pin, unpin, freeze and unfreeze to the ``insitu`` parser's subcommands."""
    rollback = subparsers.add_parser("rollback", help="roll an instance back (its canary, or to an earlier version)")
    rollback.add_argument("instance")
    rollback.add_argument("--to", type=int, dest="version", metavar="VERSION", help="an earlier stable version")
    pin = subparsers.add_parser("pin", help="serve exactly VERSION of an instance until unpinned")
    pin.add_argument("instance")
    pin.add_argument("version", type=int)
    unpin = subparsers.add_parser("unpin", help="let the router choose an instance's version again")
    unpin.add_argument("instance")
    freeze = subparsers.add_parser("freeze", help="stop automatic weight changes on a route")
    freeze.add_argument("route")
    unfreeze = subparsers.add_parser("unfreeze", help="resume automatic weight changes on a route")
    unfreeze.add_argument("route")
    for parser, action in ((rollback, "rollback"), (pin, "pin"), (unpin, "unpin")):
        parser.set_defaults(handler=run_command, action=action, kind="instance")
    for parser, action in ((freeze, "freeze"), (unfreeze, "unfreeze")):
        parser.set_defaults(handler=run_command, action=action, kind="route", version=None)
    unpin.set_defaults(version=None)
    for parser in (rollback, pin, unpin, freeze, unfreeze):
        parser.add_argument("--reason", default="", help="why (recorded in the audit)")
        parser.add_argument("--issuer", default=None, help="who (default: INSITU_COMMAND_ISSUER or the OS user)")
        parser.add_argument(
            "--wait", type=float, default=15.0, metavar="SECONDS", help="wait this long for the result (0: don't)"
        )


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of every command subcommand: build, sign, send, and report the result."""
    try:
        keys = CommandSettings()
    except ValidationError as exc:
        print(f"insitu: invalid command settings:\n{exc}", file=sys.stderr)
        return 1
    name = args.instance if args.kind == "instance" else args.route
    issuer = args.issuer or keys.command_issuer or getpass.getuser()
    command = new_command(args.action, [target(args.kind, name, args.version)], issuer=issuer, reason=args.reason)
    signed = sign(command, keys.signing_key(), keys.command_key_id)
    result = send_command(settings, signed, wait=args.wait)
    if args.wait <= 0:
        print(f"sent {args.action} {name} (command {signed['command_id']})")
        return 0
    if result is None:
        print(
            f"sent {args.action} {name} (command {signed['command_id']}); no result within {args.wait:g}s "
            "- is the streams worker running?",
            file=sys.stderr,
        )
        return NO_RESULT
    if result["result"] == "accepted":
        print(f"accepted: {result['detail']}")
        return 0
    print(f"rejected ({result['reason']}): {result['detail']}", file=sys.stderr)
    return 1


def send_command(
    settings: Settings, command: dict[str, Any], *, wait: float = 0.0, serde: Serde | None = None
) -> dict[str, Any] | None:
    """Send a signed ``command``; with ``wait`` > 0 return its ``command.results`` record (or None in time)."""
    serde = serde or Serde.from_settings(settings)
    results_topic = settings.topic("command.results")
    reader = None
    if wait > 0:
        # Start reading results where the log ends now, so the answer cannot be missed.
        reader = consumer(settings, f"insitu-cli-{uuid.uuid4().hex[:8]}")
        meta = reader.list_topics(results_topic, timeout=10).topics.get(results_topic)
        if meta is None or meta.error is not None or not meta.partitions:
            reader.close()
            msg = f"cannot read {results_topic}: {meta.error if meta else 'missing'} (run `insitu topics create`)"
            raise RuntimeError(msg)
        partitions = meta.partitions
        ends = [reader.get_watermark_offsets(TopicPartition(results_topic, p), timeout=10)[1] for p in partitions]
        reader.assign([TopicPartition(results_topic, p, end) for p, end in zip(partitions, ends, strict=True)])
    try:
        kafka = producer(settings)
        errors: list[Any] = []
        kafka.produce(
            settings.topic("commands"),
            key=message_key("commands", command),
            value=serde.encode("commands", command),
            on_delivery=lambda err, _msg: errors.append(err) if err is not None else None,
        )
        if kafka.flush(30) or errors:
            problem = errors or "timeout"
            msg = f"command {command['command_id']} not delivered to {settings.topic('commands')}: {problem}"
            raise RuntimeError(msg)
        if reader is None:
            return None
        return _await_result(reader, serde, command["command_id"], wait)
    finally:
        if reader is not None:
            reader.close()


def _await_result(reader: Any, serde: Serde, command_id: str, wait: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        message = reader.poll(min(0.5, max(0.0, deadline - time.monotonic())))
        if message is None:
            continue
        if message.error() is not None:
            if message.error().code() != KafkaError._PARTITION_EOF:
                print(f"insitu: reading results: {message.error()}", file=sys.stderr)
            continue
        try:
            record = serde.decode("command.results", message.value())
        except SerializationError:
            continue
        if record["command_id"] == command_id:
            return record
    return None
