from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconwb import banks, connections
from reconwb.vault import KeyMissing, Tampered, Vault, WrongKey, generate_key, rotate_key
from reconwb.workspace import Workspace

PASSWORD = "Sup3r-S3cret-Passw0rd!"


def _connection(ws: Workspace, name: str = "acme") -> connections.Connection:
    with ws.connect() as con:
        banks.register(con, "bank1", "Bank One", "sim-classic")
        conn = connections.add(con, name, "bank1", username="alice")
        connections.set_credentials(con, ws.vault(), name, {"password": PASSWORD})
    return conn


def test_round_trip_and_key_file_is_private(ws: Workspace) -> None:
    conn = _connection(ws)
    assert stat.S_IMODE(os.stat(ws.default_key_file).st_mode) == 0o600
    with ws.connect() as con:
        assert connections.get_credentials(con, ws.vault(), conn) == {"password": PASSWORD}


def test_plaintext_never_reaches_the_store_file(ws: Workspace) -> None:
    _connection(ws)
    with ws.connect() as con:
        con.execute("CHECKPOINT")
    for path in ws.data_dir.iterdir():
        if path.name.startswith("reconwb.duckdb"):
            raw = path.read_bytes()
            assert PASSWORD.encode() not in raw
            assert PASSWORD.encode("utf-16-le") not in raw


def test_wrong_key_is_named_and_loses_nothing(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _connection(ws)
    monkeypatch.setenv("RECONWB_KEY", generate_key())
    with ws.connect() as con:
        with pytest.raises(WrongKey, match="RECONWB_KEY"):
            connections.get_credentials(con, ws.vault(), conn)
    monkeypatch.delenv("RECONWB_KEY")
    with ws.connect() as con:
        assert connections.get_credentials(con, ws.vault(), conn) == {"password": PASSWORD}


def test_tampered_blob_and_swapped_owner_are_detected(ws: Workspace) -> None:
    first = _connection(ws, "first")
    with ws.connect() as con:
        second = connections.add(con, "second", "bank1")
        blob, key_id = con.execute(
            "SELECT ciphertext, key_id FROM secrets WHERE owner = ?", [first.credentials_owner]
        ).fetchone()
        # the same blob under another connection must not open
        con.execute("INSERT INTO secrets (owner, key_id, ciphertext) VALUES (?, ?, ?)",
                    [second.credentials_owner, key_id, blob])
        with pytest.raises(Tampered):
            connections.get_credentials(con, ws.vault(), second)
        flipped = bytearray(blob)
        flipped[-1] ^= 0x01
        con.execute("UPDATE secrets SET ciphertext = ? WHERE owner = ?", [bytes(flipped), first.credentials_owner])
        with pytest.raises(Tampered, match="modified or moved"):
            connections.get_credentials(con, ws.vault(), first)


def test_rotation_reseals_everything_and_retires_the_old_key(ws: Workspace) -> None:
    conn = _connection(ws)
    old_text = ws.default_key_file.read_text().strip()
    with ws.connect() as con:
        Vault.for_workspace(ws).put(con, "webhook-endpoint/ep1/token", "tok-123456")
    result = rotate_key(ws)
    assert result["resealed"] == 2
    new_vault = ws.vault()
    with ws.connect() as con:
        assert connections.get_credentials(con, new_vault, conn) == {"password": PASSWORD}
        assert new_vault.get(con, "webhook-endpoint/ep1/token") == "tok-123456"
        with pytest.raises(WrongKey):
            Vault.from_text(old_text).get(con, conn.credentials_owner)
    assert ws.default_key_file.read_text().count("\n") == 1


def test_missing_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONWB_KEY", raising=False)
    monkeypatch.delenv("RECONWB_KEY_FILE", raising=False)
    with pytest.raises(KeyMissing, match="reconwb init"):
        Workspace(db_path=tmp_path / "x.duckdb").vault()


def test_malformed_key_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECONWB_KEY", "not-a-key")
    with pytest.raises(Exception, match="not a base64 256-bit key"):
        Workspace(db_path=tmp_path / "x.duckdb").vault()


KILLABLE_ROTATION = """
from pathlib import Path
from reconwb import vault
from reconwb.workspace import Workspace
vault.ROTATION_CHUNK = 100
chunks.MAX_CHUNK_ROWS = 100
vault.rotate_key(Workspace(db_path=Path(sys.argv[1])))
"""


def test_a_rotation_killed_mid_way_leaves_every_secret_readable_and_the_next_finishes_it(ws: Workspace) -> None:
    from reconwb.store import db
    from tests.store.sharing import kill_between_chunks

    old_key_id = ws.vault().key_id
    with ws.connect() as con:
        for i in range(1000):
            ws.vault().put(con, f"webhook-endpoint/ep{i}/token", f"tok-{i}")
    kill_between_chunks(KILLABLE_ROTATION, str(ws.db_path), at=3)
    ring = ws.vault()  # the key file holds the new key and the old one
    assert ws.default_key_file.read_text().count("\n") == 2 and ring.key_id != old_key_id
    with ws.connect() as con:
        by_key = dict(con.execute("SELECT key_id, count(*) FROM secrets GROUP BY 1").fetchall())
        assert by_key[ring.key_id] == 300 and by_key[old_key_id] == 700
        assert all(ring.get(con, f"webhook-endpoint/ep{i}/token") == f"tok-{i}" for i in range(0, 1000, 37))

    db.reset_hold_stats()
    result = rotate_key(ws)  # finishes with the same new key, does not make a third
    assert db.hold_stats().opens >= 2
    assert result["key_id"] == ring.key_id and result["resealed"] == 700
    assert ws.default_key_file.read_text().count("\n") == 1
    with ws.connect() as con:
        assert con.execute("SELECT DISTINCT key_id FROM secrets").fetchall() == [(ring.key_id,)]
        assert all(ws.vault().get(con, f"webhook-endpoint/ep{i}/token") == f"tok-{i}" for i in range(0, 1000, 37))
