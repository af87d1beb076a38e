"""Chunk sizes of long work (`store.chunks.Pace`): bounded, following measured time, bigger for work per row."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconwb.store import chunks
from reconwb.workspace import Workspace


def test_the_next_chunk_fits_the_hold_aim_and_grows_at_most_by_the_growth_factor() -> None:
    pace = chunks.Pace(first=10_000, least=2_000, most=500_000, seconds=1.5)
    assert pace.next(10_000, 10_000, 0.05) == 20_000  # 300k would fit; twice the last at most
    assert chunks.Pace.proportional().next(10_000, 10_000, 0.05) == 80_000
    assert pace.next(400_000, 400_000, 3.0) == 200_000  # slower than aimed: smaller
    assert pace.next(10_000, 10_000, 60.0) == 2_000  # never under the least
    assert chunks.Pace.proportional().next(400_000, 400_000, 0.1) == 500_000  # never over the most


def test_row_proportional_work_starts_big_but_never_above_the_most(ws: Workspace, monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    sizes: list[int] = []

    def step(con, size: int):
        sizes.append(size)
        return size, len(sizes) == 3

    assert chunks.in_chunks(ws.connect, Path(ws.db_path), step, chunks.Pace.proportional()) == 3
    assert sizes[0] == chunks.PROPORTIONAL_FIRST_ROWS
    monkeypatch.setattr(chunks, "MAX_CHUNK_ROWS", 250)  # what tests do to see many chunks
    sizes.clear()
    chunks.in_chunks(ws.connect, Path(ws.db_path), step, chunks.Pace.proportional())
    assert max(sizes) == 250
