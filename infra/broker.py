"""The embedded single-node Kafka broker (KRaft mode), run as a child JVM under the data dir."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass

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


class EmbeddedBroker:
    """Start, stop and inspect the broker whose files live under ``<data_dir>/kafka``.

    Storage is formatted on first start; the client port is ``INSITU_KAFKA_PORT``
    and the controller listens on the next port. The pid and bootstrap address
    are kept in files so any process can find a broker that another started.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.data_dir / "kafka"
        self.log_dir = self.home / "data"
        self.logs = self.home / "logs"
        self.properties = self.home / "server.properties"
        self.pid_file = self.home / "broker.pid"
        self.bootstrap_file = self.home / "bootstrap"

    # -- inspection -------------------------------------------------------------------------

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def running_bootstrap(self) -> str | None:
        if self.pid() is None:
            return None
        try:
            return self.bootstrap_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def status(self) -> BrokerStatus:
        pid = self.pid()
        bootstrap = self.running_bootstrap()
        answering = bootstrap is not None and _answers(bootstrap, timeout=5.0)
        return BrokerStatus(pid is not None, pid, bootstrap, answering)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> str:
        """Start the broker (or find it running) and return its bootstrap address once it answers."""
        running = self.running_bootstrap()
        if running is not None:
            self._wait_until_answering(running, timeout)
            return running
        java = shutil.which("java")
        if java is None:
            msg = "Java 17 or newer is needed to run the embedded Kafka broker"
            raise BrokerError(msg)
        port = self.settings.kafka_port
        for p in (port, port + 1):
            if _port_taken(p):
                msg = f"port {p} is in use; set INSITU_KAFKA_PORT to a free port pair (client, client+1)"
                raise BrokerError(msg)
        jars = ensure_jars(self.settings.jars_dir)
        classpath = f"{jars}/*"
        bootstrap = f"127.0.0.1:{port}"
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.properties.write_text(self._server_properties(port))
        if not (self.log_dir / "meta.properties").exists():
            self._format(java, classpath)
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
        self.bootstrap_file.write_text(bootstrap)
        try:
            self._wait_until_answering(bootstrap, timeout, process)
        except BrokerError:
            self.stop()
            raise
        return bootstrap

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker gracefully (SIGTERM, then SIGKILL after ``timeout``). False if none ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    # -- internals --------------------------------------------------------------------------

    def _server_properties(self, port: int) -> str:
        controller = port + 1
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller}",
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.cleaner.backoff.ms": "5000",
        }
        return "".join(f"{k}={v}\n" for k, v in lines.items())

    def _format(self, java: str, classpath: str) -> None:
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
            str(uuid.uuid4().hex[:22]),
            "-c",
            str(self.properties),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            msg = f"formatting broker storage in {self.log_dir} failed:\n{result.stdout}{result.stderr}"
            raise BrokerError(msg)

    def _wait_until_answering(
        self, bootstrap: str, timeout: float, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                msg = f"the broker exited with code {process.returncode} while starting:\n{self._log_tail()}"
                raise BrokerError(msg)
            if _answers(bootstrap, timeout=2.0):
                return
            time.sleep(0.5)
        msg = f"the broker at {bootstrap} did not answer within {timeout:.0f}s:\n{self._log_tail()}"
        raise BrokerError(msg)

    def _log_tail(self, lines: int = 30) -> str:
        texts = []
        for name in ("broker.out", "server.log"):
            path = self.logs / name
            if path.exists():
                texts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(texts[-lines:])


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
