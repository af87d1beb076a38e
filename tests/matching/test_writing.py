"""Recording a run in chunks: clusters stay whole, a chunked run records what one transaction records, and a
run killed with SIGKILL between two chunks leaves a consistent store that the next run finishes."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from reconwb.matching import reconcile_store, writing
from reconwb.store import db
from reconwb.workspace import Workspace
from tests.store.sharing import build_store, inconsistent_payments, kill_between_chunks, recorded

N = 3000  # deposits and payments: about 2,700 links, so a 300-row chunk cap makes about ten chunks
SMALL = {"FIRST_CHUNK_ROWS": 200, "MIN_CHUNK_ROWS": 100, "MAX_CHUNK_ROWS": 300}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("writing") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RECONWB_KEY", raising=False)
        mp.delenv("RECONWB_KEY_FILE", raising=False)
        build_store(Workspace(db_path=folder / "reconwb.duckdb"), N)
    return folder


@pytest.fixture
def copies(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("RECONWB_KEY", raising=False)
    monkeypatch.delenv("RECONWB_KEY_FILE", raising=False)

    def make(name: str) -> Workspace:
        shutil.copytree(template, tmp_path / name)
        return Workspace(db_path=tmp_path / name / "reconwb.duckdb")
    return make


def test_clusters_keep_groups_that_share_a_payment_or_a_deposit_together() -> None:
    groups = pl.DataFrame({"group_id": ["a", "b", "c", "d", "e"], "status": ["matched"] * 5})
    links = pl.DataFrame({  # a-b share P1, b-d share deposit 2 (a suggestion beside a match), c and e alone
        "group_id": ["a", "b", "b", "c", "d", "e", "e"],
        "txn_id": ["1", "2", "5", "3", "2", "4", "6"],
        "payment_id": ["P1", "P1", "P1", "P2", "P3", "P4", "P5"],
    })
    run = writing._clustered(groups, links, "v", {}, incremental=False)
    spans = dict(zip(run.groups["group_id"], zip(run.groups["start"], run.groups["end"], strict=True),
                     strict=True))
    assert spans["a"] == spans["b"] == spans["d"] and spans["a"][1] - spans["a"][0] == 4
    assert len(set(spans.values())) == 3
    assert run.ends.tolist() == sorted(end for _start, end in set(spans.values()))
    # links are in cluster order: each cluster's links are the rows [start, end)
    for i, (gid, start, end) in enumerate(run.links.select("group_id", "start", "end").iter_rows()):
        assert start <= i < end and spans[gid] == (start, end)
    assert sorted(run.links["txn_id"]) == sorted(links["txn_id"])


def test_a_chunked_run_records_what_one_transaction_records(copies, monkeypatch: pytest.MonkeyPatch) -> None:
    whole, chunked = copies("whole"), copies("chunked")
    monkeypatch.setattr(writing, "FIRST_CHUNK_ROWS", 10**9)
    db.reset_hold_stats()
    reconcile_store(whole)
    assert db.hold_stats().opens <= 5  # resume check, mode, deposits, payments, one write
    for name, value in SMALL.items():
        monkeypatch.setattr(writing, name, value)
    db.reset_hold_stats()
    report = reconcile_store(chunked)
    assert report.links > 2000 and report.matched > 1000
    assert db.hold_stats().opens >= 10  # read, stage, about ten chunks
    assert recorded(chunked) == recorded(whole)
    assert inconsistent_payments(chunked) == []
    with chunked.connect() as con:
        assert con.execute("SELECT count(*) FROM reconcile_runs WHERE finished_at IS NULL").fetchone() == (0,)
        assert con.execute("SELECT rows_done = rows_total FROM reconcile_runs").fetchall() == [(True,)]
    assert not any(writing._staging_root(chunked).iterdir())


KILLABLE = """
import sys
from pathlib import Path
from reconwb.matching import reconcile_store, writing
from reconwb.workspace import Workspace
for name, value in {small}.items():
    setattr(writing, name, value)
reconcile_store(Workspace(db_path=Path(sys.argv[1])))
"""


def test_a_run_killed_between_chunks_is_finished_by_the_next_with_the_same_result(copies) -> None:
    killed, whole = copies("killed"), copies("whole")
    kill_between_chunks(KILLABLE.format(small=SMALL), str(killed.db_path))
    with killed.connect() as con:
        done, total = con.execute("SELECT rows_done, rows_total FROM reconcile_runs WHERE finished_at IS NULL"
                                  ).fetchone()
        assert 0 < done < total
        assert con.execute("SELECT count(*) FROM match_groups").fetchone()[0] > 0
    assert inconsistent_payments(killed) == []  # half-way, yet every chunk is whole
    assert any(writing._staging_root(killed).iterdir())

    reconcile_store(killed)  # finishes the killed run, then runs as usual (and finds nothing new)
    reconcile_store(whole)  # the same two runs, uninterrupted
    reconcile_store(whole)
    assert recorded(killed) == recorded(whole)
    assert inconsistent_payments(killed) == []
    with killed.connect() as con:
        assert con.execute("SELECT count(*) FROM reconcile_runs WHERE finished_at IS NULL").fetchone() == (0,)
    assert not any(writing._staging_root(killed).iterdir())


def test_payment_events_built_before_the_hold_say_what_records_says(ws) -> None:
    """The columnar build of a run's payment events gives each payload the values, money texts and key order
    that `records.payment_event` gives (what a manual link sends), whatever places the amounts carry."""
    import json
    from decimal import Decimal

    from reconwb import jsonutil
    from reconwb.matching import records
    from reconwb.store.db import transaction

    groups = pl.DataFrame({"group_id": ["g1", "g2", "g3", "g4"],
                           "status": ["matched", "matched", "suggested", "matched"],
                           "kind": ["one_to_one", "many_to_one", "one_to_one", "many_to_one"],
                           "rule": ["ref", "sum", "ref", "payer \"fee\""], "confidence": [0.97, 0.8, 0.5, 0.1 + 0.2]})
    links = pl.DataFrame({"group_id": ["g1", "g2", "g2", "g3", "g4", "g4", "g4"],
                          "txn_id": ["1", "2", "3", "4", "5", "6", "7"],
                          "payment_id": ["P1", "P2", "P2", "P3", "P4", "P4", "P4"],
                          "amount": ["10.00", "4.50", "1.235", "7.00", "2.000", "-0.05", "12"],
                          "fee": ["0.00", "0.05", "0", "0", "1.235", "0.000", "0.765"],
                          "fx_difference": ["0", "0.00", "-0.01", "0", "-0.01", "0.01", "0"],
                          "explanation": ["quoted \"INV-1\"", None, None, "x", "Zürich — “AG” \\ tab\t", None, None]})
    statuses = {"P1": ("paid", Decimal("0.000")), "P2": ("partially_paid", Decimal("4.265"))}
    parts = writing._event_parts(groups, links)
    assert set(parts["payment_id"]) == {"P1", "P2", "P4"}  # a suggestion announces nothing
    assert parts["event_id"].n_unique() == 3 and parts["event_id"].str.starts_with("evt_").all()
    with ws.connect() as con, transaction(con):
        writing._emit_payment_events(con, parts, statuses)
        stored = {subject: (kind, payload) for kind, subject, payload in con.execute(
            "SELECT type, subject, CAST(payload AS VARCHAR) FROM events").fetchall()}
    for pid, group in (("P1", "g1"), ("P2", "g2"), ("P4", "g4")):
        mine = links.filter(pl.col("payment_id") == pid)
        g = groups.filter(pl.col("group_id") == group).row(0, named=True)
        kind, payload, subject = records.payment_event(
            pid, statuses, group, g["kind"], g["rule"], g["confidence"],
            [{"txn_id": int(r["txn_id"]), "amount": Decimal(r["amount"]), "fee": Decimal(r["fee"]),
              "fx_difference": Decimal(r["fx_difference"])} for r in mine.iter_rows(named=True)],
            explanation=mine["explanation"][0])
        expected = json.loads(jsonutil.dumps(payload))
        assert stored[subject][0] == kind
        assert json.loads(stored[subject][1]) == expected
        assert list(json.loads(stored[subject][1])) == list(expected)  # the same keys in the same order
        assert json.loads(stored[subject][1])["status"] == statuses.get(pid, ("open",))[0]


def test_payment_events_refuse_money_past_the_stores_three_places() -> None:
    groups = pl.DataFrame({"group_id": ["g1"], "status": ["matched"], "kind": ["one_to_one"], "rule": ["ref"],
                           "confidence": [0.9]})
    links = pl.DataFrame({"group_id": ["g1"], "txn_id": ["1"], "payment_id": ["P1"], "amount": ["10.0001"],
                          "fee": ["0"], "fx_difference": ["0"], "explanation": [None]},
                         schema_overrides={"explanation": pl.String})
    with pytest.raises(ValueError, match="more than the store's three decimals"):
        writing._event_parts(groups, links)

