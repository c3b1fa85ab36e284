"""Staged table writes."""

from __future__ import annotations

import pytest

from streams.router.staged import Staged


def test_reads_see_staged_writes_and_the_table_only_after_commit():
    table = {"a": 1, "b": 2}
    view = Staged(table)
    view["c"] = 3
    view["a"] = 10
    view.pop("b")
    assert view.get("a") == 10 and "b" not in view and view.get("b") is None and len(view) == 2
    assert sorted(view) == ["a", "c"] and sorted(view.values()) == [3, 10]
    assert table == {"a": 1, "b": 2} and view.pending == 3
    with pytest.raises(KeyError):
        view["b"]
    with pytest.raises(KeyError):
        del view["zz"]
    view.commit()
    assert table == {"a": 10, "c": 3} and view.pending == 0
