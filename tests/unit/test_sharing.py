"""Layers shared with other images are matched by ChainID, not by diff_id alone."""

from __future__ import annotations

from inspector.digest import Digest
from inspector.sharing import OtherImage, sharing


def _d(n: int) -> Digest:
    return Digest("sha256", f"{n:064x}")


def test_shared_prefix_is_shared_and_counted_once() -> None:
    mine = [_d(1), _d(2), _d(3)]
    others = [OtherImage("base:1", (_d(1),)), OtherImage("app:2", (_d(1), _d(2), _d(9)))]
    result = sharing(mine, [100, 20, 3], others)
    assert result.shared_with == (("app:2", "base:1"), ("app:2",), ())
    assert result.shared_bytes == 120
    assert result.unique_bytes == 3


def test_same_diff_id_on_another_stack_is_not_shared() -> None:
    mine = [_d(1), _d(2)]
    others = [OtherImage("elsewhere", (_d(7), _d(2)))]
    result = sharing(mine, [10, 5], others)
    assert result.shared_with == ((), ())
    assert (result.shared_bytes, result.unique_bytes) == (0, 15)
    assert not result.is_shared(1)
