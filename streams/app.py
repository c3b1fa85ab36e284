"""The one Faust app of the streams worker, configured from ``INSITU_*`` settings at import.

Topics, tables and agents live in sibling modules that import ``app`` from here.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust

from infra.kafka_clients import NoBrokerError, bootstrap_servers
from streams.config import StreamSettings

settings = StreamSettings()


def _broker_url(settings: StreamSettings) -> str:
    try:
        bootstrap = bootstrap_servers(settings)
    except NoBrokerError:
        # Not running yet: the embedded broker's address. `insitu streams worker` starts it first.
        bootstrap = f"127.0.0.1:{settings.kafka_port}"
    return ";".join(f"kafka://{server}" for server in bootstrap.split(","))


def _credentials(settings: StreamSettings) -> Any:
    protocol = (settings.kafka_security_protocol or "PLAINTEXT").upper()
    if protocol == "PLAINTEXT":
        return None
    ssl_context = None
    if protocol in ("SSL", "SASL_SSL"):
        ssl_context = ssl.create_default_context(cafile=settings.kafka_ssl_ca_location)
        if settings.kafka_ssl_certificate_location:
            password = settings.kafka_ssl_key_password
            ssl_context.load_cert_chain(
                settings.kafka_ssl_certificate_location,
                settings.kafka_ssl_key_location,
                password.get_secret_value() if password else None,
            )
    if protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=ssl_context,
        )
    return faust.SSLCredentials(ssl_context)


app = faust.App(
    settings.app_id,
    broker=_broker_url(settings),
    broker_credentials=_credentials(settings),
    store="memory://",
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication or 1,  # the worker sets it from the cluster (streams.worker)
    topic_allow_declare=True,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    # No linger: with 50 ms, aiokafka 0.14's producer left a lingering batch unsent for 20 to 50 s in
    # two of four runs of the two-worker recovery test (its partition's leader known, nothing in
    # flight, the sender waiting), and every commit's flush waited on it.
    producer_linger=0.0,
    # At least once, with idempotent state: every agent recognises a replayed or duplicated
    # message by request id or input offset, which holds across crashes and rebalances.
    processing_guarantee="at_least_once",
    broker_session_timeout=settings.session_timeout,
    broker_heartbeat_interval=min(3.0, settings.session_timeout / 4),
    table_standby_replicas=0,
    datadir=str(settings.data_dir / "streams" / settings.app_id),
    web_enabled=settings.streams_web_port is not None,
    web_port=settings.streams_web_port or 6066,
    autodiscover=False,
)
