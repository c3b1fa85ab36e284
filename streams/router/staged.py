"""``Staged``: table writes held back until the outputs they depend on are delivered.

The router processes each input at least once. It changes its state only after what the
change produces (weights, version events, command results) is safely in Kafka: the engine
writes to a ``Staged`` view of each table, the agent delivers the outputs, then commits.
If the worker dies in between, the input comes again and is decided again from the old
state — the outputs may appear twice, the state changes once.

>>> table = {"a": 1}
>>> view = Staged(table)
>>> view["b"] = 2
>>> del view["a"]
>>> sorted(view.items()), table
([('b', 2)], {'a': 1})
>>> view.commit(); table
{'b': 2}
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

_DELETED = object()


class Staged(MutableMapping[str, Any]):
    """Reads through to ``table``; writes and deletions wait for ``commit()``."""

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self._table = table
        self._writes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self._writes:
            value = self._writes[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        return self._table[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: Any) -> None:
        self._writes[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._writes[key] = _DELETED

    def __contains__(self, key: object) -> bool:
        if key in self._writes:
            return self._writes[key] is not _DELETED
        return key in self._table

    def __iter__(self) -> Iterator[str]:
        for key in list(self._table.keys()):
            if key not in self._writes:
                yield key
        for key, value in list(self._writes.items()):
            if value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @property
    def pending(self) -> int:
        return len(self._writes)

    def commit(self) -> None:
        """Apply the held writes to the table, in order."""
        for key, value in self._writes.items():
            if value is _DELETED:
                self._table.pop(key, None)
            else:
                self._table[key] = value
        self._writes.clear()
