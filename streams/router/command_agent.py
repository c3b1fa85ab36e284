"""The commands agent: checks each command, resolves its routes, and forwards it to them.

``commands`` has one partition; the ``router-command-ids`` table (one partition, its
changelog compacted) remembers the ids of authentic commands, with the offset that brought
them, until they would be stale anyway, whichever worker owns the partition. An instance
command goes to every route whose current weights name the instance (read from
``routing.weights`` like a gateway does).
Every rejection is audited on ``command.results`` and dead-lettered with the original bytes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.commands import keyring
from infra.gateway.routing_table import RoutingError, RoutingTable
from infra.operator_keys import PublicKeysFile
from schemas import Rejected
from schemas.deadletters import DETAIL_CHARS
from streams import stages, topology
from streams.app import app, settings
from streams.deadletter import Message, send
from streams.router import envelope
from streams.router.channels import dead_letters, lag, send_result, serde
from streams.router.gate import CommandGate
from streams.topology import commands, router_input

log = logging.getLogger(__name__)
DIRECTORY_TIMEOUT = 30.0

gate = CommandGate(
    keyring(settings.command_key, settings.command_key_id, settings.command_keys),
    max_age=timedelta(seconds=settings.command_max_age),
    max_skew=timedelta(seconds=settings.command_max_skew),
    public_keys=PublicKeysFile(settings.command_public_keys_file) if settings.command_public_keys_file else None,
)


class Directory:
    """Which routes an instance is on: a ``RoutingTable`` started on first use inside the worker."""

    def __init__(self) -> None:
        self._table: RoutingTable | None = None

    async def routes_of(self, instance_id: str) -> list[str] | None:
        """The routes naming ``instance_id``; None if ``routing.weights`` cannot be read in time."""
        loop = asyncio.get_running_loop()
        if self._table is None:
            log.info("starting the instance directory (a RoutingTable on routing.weights)")
            table = RoutingTable(settings, serde=serde)
            try:
                await loop.run_in_executor(None, table.start, None)
            except RoutingError:
                log.exception("the instance directory cannot start")
                return None
            self._table = table
        if not await loop.run_in_executor(None, self._table.wait_ready, DIRECTORY_TIMEOUT):
            return None
        return self._table.routes_of(instance_id)


directory = Directory()
command_ids = topology.command_ids()


@app.agent(commands)
async def router_commands(stream: Any) -> None:
    async for event in stream.events():
        await dead_letters.guard(event.message, handle_command(event.message))
        stages.processed(lag, event.message)


async def handle_command(message: Message) -> None:
    try:
        serde.limits.check_key(message.key)
        command = serde.decode("commands", message.value, partition=message.partition, offset=message.offset)
    except Rejected as exc:
        await reject(None, message, exc.reason, exc.detail)
        return
    log.info(
        "command %s: %s %s from %s", command["command_id"], command["action"], command["targets"], command["issuer"]
    )
    rejection = gate.check(command, command_ids, now=datetime.now(UTC), offset=message.offset)
    if rejection is not None:
        await reject(command, message, rejection.reason, rejection.detail)
        return
    (target,) = command["targets"]
    routes = [target["name"]] if target["kind"] == "route" else await directory.routes_of(target["name"])
    if routes is None:
        await reject(command, message, "unavailable", f"routing.weights not readable within {DIRECTORY_TIMEOUT}s")
        return
    if not routes:
        await reject(command, message, "unknown_instance", f"instance {target['name']!r} is on no route's weights")
        return
    data = envelope.command(
        command,
        until_ms=gate.until_ms(command),
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
    )
    for route in routes:
        await send(router_input, key=route.encode("utf-8"), value=data)


async def reject(command: dict[str, Any] | None, message: Message, reason: str, detail: str) -> None:
    """Audit a rejected command on ``command.results`` and dead-letter its original bytes."""
    log.info("command rejected: %s %s", reason, detail)
    key = message.key if message.key is None or len(message.key) <= serde.limits.string_chars else None
    await send_result(command, accepted=False, reason=reason, detail=detail[:DETAIL_CHARS], key=key)
    await dead_letters.reject(message, Rejected(detail, reason=reason))
