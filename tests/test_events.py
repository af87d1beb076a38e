"""Event ids: drawn one at a time or a run's worth at once, they look alike and never repeat."""

from __future__ import annotations

import uuid

from reconwb.events import new_id, new_ids


def test_ids_drawn_at_once_are_distinct_version_4_uuids_like_single_ones() -> None:
    ids = new_ids("evt", 50_000)
    assert len(ids) == 50_000 and len(set(ids)) == 50_000
    single = new_id("evt")
    for one in (*ids[:1000], single):
        prefix, _, hex_part = one.partition("_")
        parsed = uuid.UUID(hex_part)
        assert prefix == "evt" and len(hex_part) == 32 and parsed.hex == hex_part
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert new_ids("evt", 0) == []
    assert set(new_ids("evt", 1000)).isdisjoint(ids)  # a second draw does not repeat the first
