"""Infrastructure of insitu: configuration, the embedded Kafka broker, the topic catalog, ClickHouse, the CLI.

Public names:

- ``Settings`` (``infra.config``): the one configuration class (``INSITU_*``).
- ``EmbeddedBroker`` (``infra.broker``): the single-node KRaft broker under the data dir.
- ``CATALOG``, ``create_topics``, ``describe_topics`` (``infra.topics``): topics as code.
- ``producer``, ``consumer``, ``admin`` (``infra.kafka_clients``): confluent-kafka clients from Settings.
- ``connect``, ``migrate``, ``run_query`` (``infra.clickhouse``): the analytics store.
- ``run_named``, ``shipped`` (``infra.queries``): the named analytics queries (``NAME.sql``).
- ``build_report`` (``infra.report``): HTML page, PNG figures, ``summary.json`` and SQL of a run.
- ``main`` (``infra.cli``): the ``insitu`` command.
"""
