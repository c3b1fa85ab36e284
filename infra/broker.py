"""The embedded Kafka (KRaft mode): one broker or a cluster on this machine, child JVMs under the data dir."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from infra.config import Settings
from infra.kafka_dist import LOG4J_CONFIG, ensure_jars

STORAGE_TOOL = "kafka.tools.StorageTool"
BROKER_MAIN = "kafka.Kafka"


class BrokerError(RuntimeError):
    """The embedded broker could not be started, reached or stopped."""


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str | None
    answering: bool

    def __str__(self) -> str:
        if not self.running:
            return "stopped"
        state = "answering" if self.answering else "not answering"
        return f"running (pid {self.pid}) at {self.bootstrap}, {state}"


class BrokerNode:
    """One broker JVM (KRaft, broker and controller in one process) and its files under ``home``."""

    def __init__(self, settings: Settings, home: Path, node_id: int, port: int, voters: str, nodes: int) -> None:
        self.settings = settings
        self.home = home
        self.node_id = node_id
        self.port = port
        self.voters = voters
        self.nodes = nodes
        self.log_dir = home / "data"
        self.logs = home / "logs"
        self.properties = home / "server.properties"
        self.pid_file = home / "broker.pid"
        self.bootstrap = f"127.0.0.1:{port}"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def status(self) -> BrokerStatus:
        pid = self.pid()
        answering = pid is not None and _answers(self.bootstrap, timeout=5.0)
        return BrokerStatus(pid is not None, pid, self.bootstrap, answering)

    def launch(self, java: str, classpath: str, cluster_id: str) -> subprocess.Popen[bytes]:
        """Write its properties, format its storage on first start, and start its JVM (not waiting)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.properties.write_text(self._server_properties())
        if not (self.log_dir / "meta.properties").exists():
            self._format(java, classpath, cluster_id)
        heap = self.settings.kafka_heap
        command = [
            java,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.logs}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            classpath,
            BROKER_MAIN,
            str(self.properties),
        ]
        with open(self.logs / "broker.out", "ab") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.pid_file.write_text(str(process.pid))
        return process

    def stop(self, timeout: float = 30.0, *, kill: bool = False) -> bool:
        """SIGTERM, then SIGKILL after ``timeout`` (``kill``: SIGKILL at once). False if it was not running."""
        pid = self.signal(signal.SIGKILL if kill else signal.SIGTERM)
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        return self.wait_stopped(pid, timeout)

    def signal(self, sig: int) -> int | None:
        """Send ``sig`` to the node's JVM; its pid, or None if it is not running."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, sig)
        return pid

    def wait_stopped(self, pid: int, timeout: float) -> bool:
        """Wait up to ``timeout`` for the signalled JVM ``pid`` to exit, then SIGKILL it."""
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _server_properties(self) -> str:
        controller = self.port + 1
        replicas = str(min(self.nodes, 3))
        min_isr = "2" if self.nodes >= 3 else "1"
        lines = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            "log.cleaner.backoff.ms": "5000",
        }
        return "".join(f"{k}={v}\n" for k, v in lines.items())

    def _format(self, java: str, classpath: str, cluster_id: str) -> None:
        command = [
            java,
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={self.logs}",
            "-cp",
            classpath,
            STORAGE_TOOL,
            "format",
            "--ignore-formatted",
            "-t",
            cluster_id,
            "-c",
            str(self.properties),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            msg = f"formatting broker storage in {self.log_dir} failed:\n{result.stdout}{result.stderr}"
            raise BrokerError(msg)

    def log_tail(self, lines: int = 30) -> str:
        texts = []
        for name in ("broker.out", "server.log"):
            path = self.logs / name
            if path.exists():
                texts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(texts[-lines:])


class EmbeddedBroker:
    """Start, stop and inspect the embedded Kafka under ``<data_dir>/kafka``: one node, or a cluster.

    One node keeps its files in ``<data_dir>/kafka`` itself; a cluster of ``brokers`` nodes (each a
    broker and a KRaft controller, from the same jars) keeps node *i*'s data, logs, properties and
    pid in ``<data_dir>/kafka/node-<i>``. Node *i* listens for clients on ``INSITU_KAFKA_PORT`` +
    2(i-1), its controller on the next port. The node count is recorded at the first start, so
    ``stop`` and ``status`` cover every node without being told; storage is formatted once; the
    bootstrap list is kept in a file so any process can find a cluster another one started. With
    three or more nodes, new topics are replicated three times with ``min.insync.replicas`` 2.
    """

    def __init__(self, settings: Settings, brokers: int | None = None) -> None:
        self.settings = settings
        self.home = settings.data_dir / "kafka"
        self.count_file = self.home / "brokers"
        self.bootstrap_file = self.home / "bootstrap"
        self.cluster_id_file = self.home / "cluster.id"
        recorded = self.recorded_brokers()
        if brokers is not None and recorded is not None and brokers != recorded:
            msg = (
                f"the embedded Kafka under {self.home} has {recorded} broker(s); it cannot be started with {brokers} "
                f"(use another INSITU_DATA_DIR, or delete {self.home} and its data)"
            )
            raise BrokerError(msg)
        count = brokers or recorded or 1
        if count < 1:
            msg = f"a cluster needs at least one broker, got {count}"
            raise BrokerError(msg)
        port = settings.kafka_port
        voters = ",".join(f"{i}@127.0.0.1:{port + 2 * (i - 1) + 1}" for i in range(1, count + 1))
        self.nodes = [
            BrokerNode(
                settings, self.home if count == 1 else self.home / f"node-{i}", i, port + 2 * (i - 1), voters, count
            )
            for i in range(1, count + 1)
        ]

    # -- inspection -------------------------------------------------------------------------

    def recorded_brokers(self) -> int | None:
        try:
            return int(self.count_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def pid(self) -> int | None:
        """The pid of the first running node (None: no node runs)."""
        return next((pid for node in self.nodes if (pid := node.pid()) is not None), None)

    def running_bootstrap(self) -> str | None:
        if self.pid() is None:
            return None
        try:
            return self.bootstrap_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def bootstrap(self) -> str:
        """Every node's client address, comma-separated."""
        return ",".join(node.bootstrap for node in self.nodes)

    def status(self) -> BrokerStatus:
        """The whole: running if any node runs, answering if every node answers."""
        nodes = self.node_statuses()
        running = [n for n in nodes if n.running]
        return BrokerStatus(
            bool(running),
            running[0].pid if running else None,
            self.running_bootstrap(),
            bool(nodes) and all(n.answering for n in nodes),
        )

    def node_statuses(self) -> list[BrokerStatus]:
        return [node.status() for node in self.nodes]

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> str:
        """Start every node not running (or find them running) and return the bootstrap list once all answer."""
        java = shutil.which("java")
        stopped = [node for node in self.nodes if node.pid() is None]
        if stopped and java is None:
            msg = "Java 17 or newer is needed to run the embedded Kafka broker"
            raise BrokerError(msg)
        for node in stopped:
            for p in (node.port, node.port + 1):
                if _port_taken(p):
                    msg = (
                        f"port {p} is in use; set INSITU_KAFKA_PORT to the first of {2 * len(self.nodes)} "
                        "free consecutive ports (each node: client, controller)"
                    )
                    raise BrokerError(msg)
        bootstrap = self.bootstrap()
        processes: dict[int, subprocess.Popen[bytes]] = {}
        if stopped:
            assert java is not None
            classpath = f"{ensure_jars(self.settings.jars_dir)}/*"
            self.home.mkdir(parents=True, exist_ok=True)
            self.count_file.write_text(str(len(self.nodes)))
            if not self.cluster_id_file.exists():
                self.cluster_id_file.write_text(uuid.uuid4().hex[:22])
            cluster_id = self.cluster_id_file.read_text().strip()
            with ThreadPoolExecutor(len(stopped)) as pool:  # each formats its storage first: a JVM run each
                launched = pool.map(lambda node: node.launch(java, classpath, cluster_id), stopped)
                processes = {node.node_id: process for node, process in zip(stopped, launched, strict=True)}
            self.bootstrap_file.write_text(bootstrap)
        try:
            deadline = time.monotonic() + timeout
            for node in self.nodes:
                self._wait_until_answering(node, deadline, processes.get(node.node_id))
        except BrokerError:
            if processes:
                self.stop()
            raise
        return bootstrap

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop every node gracefully (SIGTERM, then SIGKILL after ``timeout``). False if none ran.

        All nodes are signalled at once: stopped one by one, the last would wait out ``timeout`` for a
        controller quorum that is already gone."""
        running = [(node, pid) for node in self.nodes if (pid := node.signal(signal.SIGTERM)) is not None]
        deadline = time.monotonic() + timeout
        for node, pid in running:
            node.wait_stopped(pid, max(0.0, deadline - time.monotonic()))
        for node in self.nodes:
            node.pid_file.unlink(missing_ok=True)
        return bool(running)

    # -- internals --------------------------------------------------------------------------

    def _wait_until_answering(
        self, node: BrokerNode, deadline: float, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                msg = f"broker {node.node_id} exited with code {process.returncode} while starting:\n{node.log_tail()}"
                raise BrokerError(msg)
            if _answers(node.bootstrap, timeout=2.0):
                return
            time.sleep(0.5)
        msg = f"broker {node.node_id} at {node.bootstrap} did not answer in time:\n{node.log_tail()}"
        raise BrokerError(msg)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process still "exists"; reap it if so.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _answers(bootstrap: str, timeout: float) -> bool:
    from confluent_kafka.admin import AdminClient

    host, _, port = bootstrap.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError):
        return False
    # log_level 0: a probe that fails is expected while the broker starts; keep stderr quiet.
    client = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout * 1000), "log_level": 0})
    try:
        client.list_topics(timeout=timeout)
    except Exception:  # any failure means "not (yet) answering"
        return False
    return True
