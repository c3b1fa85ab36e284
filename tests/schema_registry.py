"""A real Schema Registry for tests: Apicurio Registry, resolved from Maven Central, run as a child JVM.

Apicurio Registry 2.6 runs on Java 17 with in-memory storage and serves the Confluent Schema
Registry API at ``/apis/ccompat/v7``. Its release tarball (``io.apicurio:apicurio-registry-app``,
classifier ``all``) is fetched once with Maven into ``~/.cache/insitu`` (Maven's local repository
keeps the download) and unpacked there.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Self

import httpx

VERSION = "2.6.13.Final"
ARTIFACT = f"io.apicurio:apicurio-registry-app:{VERSION}:tar.gz:all"
CACHE = Path.home() / ".cache" / "insitu" / f"apicurio-registry-{VERSION}"


def ensure_registry(home: Path = CACHE) -> Path:
    """The registry's runner jar, resolved and unpacked into ``home`` unless it is already there."""
    found = sorted(home.glob("**/*-runner.jar")) if home.exists() else []
    if found:
        return found[0]
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".apicurio-", dir=home.parent))
    try:
        download = staging / "download"
        command = ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={download}"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            msg = f"resolving {ARTIFACT} from Maven Central failed:\n{result.stdout}{result.stderr}"
            raise RuntimeError(msg)
        unpacked = staging / "unpacked"
        with tarfile.open(next(download.glob("*.tar.gz"))) as tar:
            tar.extractall(unpacked, filter="data")
        unpacked.rename(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ensure_registry(home)


class ApicurioRegistry:
    """``with ApicurioRegistry(port, log) as registry: registry.url`` (the Confluent-compatible API)."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}/apis/ccompat/v7"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        runner = ensure_registry()
        java = shutil.which("java") or "java"
        command = [java, f"-Dquarkus.http.port={self.port}", "-Dquarkus.http.host=127.0.0.1", "-jar", str(runner)]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(command, cwd=runner.parent, stdout=out, stderr=subprocess.STDOUT)
        try:
            self._wait_until_answering(timeout=180)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _wait_until_answering(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"the schema registry exited with {self.process.returncode}:\n{self._tail()}"
                raise RuntimeError(msg)
            try:
                if httpx.get(f"{self.url}/subjects", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        msg = f"the schema registry did not answer within {timeout:.0f}s:\n{self._tail()}"
        raise RuntimeError(msg)

    def _tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
