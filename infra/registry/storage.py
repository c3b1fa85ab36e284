"""Bytes under a URI prefix through fsspec: a local path, ``file://``, or any installed filesystem (``s3://``...).

Nothing here assumes one machine: paths are joined with ``/`` under the prefix, and a
write is a single put (on a local disk: a temporary file renamed into place, so a
reader never sees half a file).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import fsspec
from fsspec.core import url_to_fs


class Storage:
    """Read and write small objects below ``uri``.

    >>> store = Storage("memory://insitu-doc")
    >>> store.write_bytes("a/b.json", b"{}")
    >>> store.read_bytes("a/b.json"), store.exists("a/b.json"), store.list("a")
    (b'{}', True, ['b.json'])
    >>> store.url("a/b.json")
    'memory:///insitu-doc/a/b.json'
    """

    def __init__(self, uri: str, **storage_options: Any) -> None:
        if not uri:
            msg = "a storage URI or path is required"
            raise ValueError(msg)
        self.uri = uri
        self.fs: fsspec.AbstractFileSystem
        self.fs, root = url_to_fs(uri, **storage_options)
        self.root = root.rstrip("/")
        self._local = "file" in _protocols(self.fs)

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative.strip('/')}" if relative else self.root

    def url(self, relative: str) -> str:
        """A protocol-qualified URL of ``relative`` (for ``weights_uri`` and the like)."""
        return str(self.fs.unstrip_protocol(self.path(relative)))

    def read_bytes(self, relative: str) -> bytes:
        """The object's bytes; ``FileNotFoundError`` names the URL when it does not exist."""
        try:
            return bytes(self.fs.cat_file(self.path(relative)))
        except FileNotFoundError:
            msg = f"{self.url(relative)} does not exist"
            raise FileNotFoundError(msg) from None

    def write_bytes(self, relative: str, data: bytes) -> None:
        target = self.path(relative)
        parent = target.rsplit("/", 1)[0]
        if self._local:
            self.fs.makedirs(parent, exist_ok=True)
            temporary = f"{parent}/.{uuid.uuid4().hex}.tmp"
            self.fs.pipe_file(temporary, data)
            self.fs.mv(temporary, target)
        else:
            self.fs.pipe_file(target, data)

    def create_bytes(self, relative: str, data: bytes) -> None:
        """Write ``relative`` only if it does not exist yet, else ``FileExistsError``: of several writers
        racing for one name, exactly one wins (O_EXCL on a local disk; elsewhere fsspec's ``mode="create"``,
        a conditional put on object stores that offer one)."""
        target = self.path(relative)
        if not self._local:
            self.fs.pipe_file(target, data, mode="create")
            return
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # fsspec's local "create" is not atomic
        with os.fdopen(fd, "wb") as out:
            out.write(data)

    def exists(self, relative: str) -> bool:
        return bool(self.fs.exists(self.path(relative)))

    def list(self, relative: str) -> list[str]:
        """Names directly below ``relative`` (files and folders), sorted; empty when it does not exist."""
        base = self.path(relative)
        try:
            entries = self.fs.ls(base, detail=False)
        except FileNotFoundError:
            return []
        names = {str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries if str(entry).rstrip("/") != base}
        return sorted(n for n in names if n and not n.startswith("."))


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
