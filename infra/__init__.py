"""Infrastructure of insitu: configuration, Kafka, the topic catalog, ClickHouse, commands, the gateway.

The base layer every process shares: it imports ``schemas`` only. ``infra.app`` (the CLI, the
demo loop, scenarios, reports) is the top layer and lives here only as a sub-package.

Public names:

- ``Settings`` (``infra.config``): the one configuration class (``INSITU_*``).
- ``EmbeddedBroker`` (``infra.broker``): the single-node KRaft broker under the data dir.
- ``CATALOG``, ``create_topics``, ``describe_topics`` (``infra.topics``): topics as code.
- ``producer``, ``consumer``, ``admin`` (``infra.kafka_clients``): confluent-kafka clients from Settings.
- ``connect``, ``migrate``, ``run_query`` (``infra.clickhouse``): the analytics store.
- ``run_named``, ``shipped`` (``infra.queries``): the named analytics queries (``NAME.sql``).
- ``infra.commands``: signing and checking operator commands; ``infra.gateway``: the gateway library.
- ``infra.registry``: the model registry (``ModelRegistry``, ``LoadedModel``, ``ModelFamily``, ...).
- ``import_object``, ``import_callable`` (``infra.imports``): objects named by ``module:attribute`` paths.
"""
