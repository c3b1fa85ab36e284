"""The Apache Kafka broker's jars, resolved from Maven Central with Maven (no tarballs, no Docker)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

POM = Path(__file__).with_name("kafka") / "pom.xml"
LOG4J_CONFIG = Path(__file__).with_name("kafka") / "log4j2.properties"
MARKER = ".resolved"


class KafkaDistError(RuntimeError):
    """The broker's jars could not be resolved."""


def kafka_version() -> str:
    """The Kafka version the pom pins."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not found:
        msg = f"no <kafka.version> in {POM}"
        raise KafkaDistError(msg)
    return found.group(1)


def _fingerprint() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def jars_ready(jars_dir: Path) -> bool:
    marker = jars_dir / MARKER
    return marker.is_file() and marker.read_text().strip() == _fingerprint()


def ensure_jars(jars_dir: Path) -> Path:
    """Resolve the broker classpath into ``jars_dir`` unless it is already there for this pom.

    Maven's local repository caches the downloads; the copy is written to a
    temporary sibling and moved into place, so a half-finished run never looks done.
    """
    if jars_ready(jars_dir):
        return jars_dir
    mvn = shutil.which("mvn")
    if mvn is None:
        msg = "Maven (mvn) resolves the Kafka broker jars from Maven Central; install it (apt-get install maven)"
        raise KafkaDistError(msg)
    jars_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".jars-", dir=jars_dir.parent))
    command = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={staging}"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        output = result.stdout[-3000:] + result.stderr[-3000:]
        msg = f"resolving Kafka {kafka_version()} jars failed (exit {result.returncode}):\n{output}"
        raise KafkaDistError(msg)
    (staging / MARKER).write_text(_fingerprint())
    if jars_dir.exists():
        shutil.rmtree(jars_dir)
    staging.rename(jars_dir)
    return jars_dir
