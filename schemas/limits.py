"""Bounds every input must keep before anything else is done with it.

Services write the input topics (``inference.events``, ``feedback.events``, ``commands``);
insitu copies parts of each input into table state, internal records and dead letters. The
decoders check these bounds first, so no input can make an internal record too large for
the broker, exhaust the stack or grow a worker's memory:

========================  ===========  =================================================
bound                     default      dead-letter reason when exceeded
========================  ===========  =================================================
``message_bytes``         262,144      ``too_large``: the whole value, before decoding
``depth``                 8            ``too_deep``: nesting of objects and arrays
``entries``               4,096        ``too_many``: entries of one map or array
``string_chars``          1,024        ``too_long``: any string, map keys included
``id_chars``              256          ``too_long``: ids that become keys (``ID_FIELDS``)
========================  ===========  =================================================

No valid record nests deeper than 3 (a command's ``targets[].version``).

>>> limits = Limits(id_chars=4)
>>> limits.check({"request_id": "r-12345", "features": {}})
Traceback (most recent call last):
...
schemas.errors.SerializationError: too_long: field 'request_id' is 7 characters; the limit is 4 (INSITU_MAX_ID_CHARS)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.errors import SerializationError

ID_FIELDS = frozenset({"request_id", "route", "instance_id", "command_id"})
"""Top-level string fields that become Kafka keys or table keys."""


@dataclass(frozen=True)
class Limits:
    """The bounds of one input; ``from_settings`` reads them from ``INSITU_MAX_*``."""

    message_bytes: int = 262_144
    depth: int = 8
    entries: int = 4_096
    string_chars: int = 1_024
    id_chars: int = 256

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            message_bytes=settings.max_message_bytes,
            depth=settings.max_depth,
            entries=settings.max_entries,
            string_chars=settings.max_string_chars,
            id_chars=settings.max_id_chars,
        )

    def check_size(self, data: bytes) -> None:
        """``too_large`` if ``data`` is longer than ``message_bytes``.

        >>> Limits(message_bytes=3).check_size(b"abcd")
        Traceback (most recent call last):
        ...
        schemas.errors.SerializationError: too_large: value is 4 bytes; the limit is 3 (INSITU_MAX_MESSAGE_BYTES)
        """
        if len(data) > self.message_bytes:
            msg = f"value is {len(data):,} bytes; the limit is {self.message_bytes:,} (INSITU_MAX_MESSAGE_BYTES)"
            raise SerializationError(msg, reason="too_large")

    def check_key(self, key: bytes | None) -> None:
        """``too_long`` if a message key is longer than ``string_chars`` bytes.

        >>> Limits(string_chars=2).check_key(b"abc")
        Traceback (most recent call last):
        ...
        schemas.errors.SerializationError: too_long: the key is 3 bytes; the limit is 2 (INSITU_MAX_STRING_CHARS)
        """
        if key is not None and len(key) > self.string_chars:
            msg = f"the key is {len(key):,} bytes; the limit is {self.string_chars:,} (INSITU_MAX_STRING_CHARS)"
            raise SerializationError(msg, reason="too_long", field="key")

    def check(self, value: Any) -> None:
        """Walk a decoded value (without recursion) and raise on the first bound it exceeds.

        >>> Limits(depth=2).check({"a": {"b": {"c": 1}}})
        Traceback (most recent call last):
        ...
        schemas.errors.SerializationError: too_deep: field 'a.b' nests deeper than 2 levels (INSITU_MAX_DEPTH)
        """
        stack: list[tuple[Any, str, int]] = [(value, "", 1)]
        while stack:
            item, path, depth = stack.pop()
            if isinstance(item, str):
                self._string(item, path)
            elif isinstance(item, dict | list):
                if depth > self.depth:
                    where = f"field '{path}'" if path else "value"
                    msg = f"{where} nests deeper than {self.depth} levels (INSITU_MAX_DEPTH)"
                    raise SerializationError(msg, reason="too_deep", field=path or None)
                if len(item) > self.entries:
                    kind = "entries" if isinstance(item, dict) else "items"
                    msg = f"field '{path}' has {len(item):,} {kind}; the limit is {self.entries:,} (INSITU_MAX_ENTRIES)"
                    raise SerializationError(msg, reason="too_many", field=path or None)
                if isinstance(item, dict):
                    for key, child in item.items():
                        name = str(key)
                        self._key(name, path)
                        stack.append((child, f"{path}.{name}" if path else name, depth + 1))
                else:
                    stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))

    def _string(self, text: str, path: str) -> None:
        limit, setting = (
            (self.id_chars, "INSITU_MAX_ID_CHARS")
            if path in ID_FIELDS
            else (self.string_chars, "INSITU_MAX_STRING_CHARS")
        )
        if len(text) > limit:
            msg = f"field '{path}' is {len(text):,} characters; the limit is {limit:,} ({setting})"
            raise SerializationError(msg, reason="too_long", field=path)

    def _key(self, name: str, path: str) -> None:
        if len(name) > self.string_chars:
            where = f"'{path}'" if path else "the record"
            msg = (
                f"a key of {where} ({clip(name)}) is {len(name):,} characters; "
                f"the limit is {self.string_chars:,} (INSITU_MAX_STRING_CHARS)"
            )
            raise SerializationError(msg, reason="too_long", field=path or None)


def clip(text: str, chars: int = 40) -> str:
    """``text`` cut to ``chars`` characters, with the cut shown.

    >>> clip("abcdef", 3)
    'abc...(+3 characters)'
    """
    return text if len(text) <= chars else f"{text[:chars]}...(+{len(text) - chars:,} characters)"
