"""Credential encryption: AES-256-GCM with a workspace key, one sealed blob per owner.

Secrets live in the `secrets` table, keyed by an owner string ("credentials/12"). The owner is the AEAD
associated data, so a blob copied onto another owner fails to open instead of handing one connection another
connection's password. The key never enters the store: it comes from `RECONWB_KEY`, `RECONWB_KEY_FILE`, or a
0600 key file next to the store. A key file may hold several keys, one per line, newest first; older keys only
decrypt, which is what lets `rotate_key` survive a crash half-way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets as _random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconwb.errors import Conflict, ReconwbError
from reconwb.private import write_private
from reconwb.redaction import register_secret

if TYPE_CHECKING:
    import duckdb
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from reconwb.workspace import Workspace

log = logging.getLogger(__name__)

_MAGIC = b"RWB1"
_NONCE = 12


class VaultError(ReconwbError):
    """A secret cannot be sealed or opened."""


class KeyMissing(VaultError):
    """No key is configured for this workspace."""


class WrongKey(VaultError):
    """The secret was sealed with a key we do not have."""


class Tampered(VaultError):
    """The blob fails authentication: modified, truncated, or moved to another owner."""


def generate_key() -> str:
    """A new random 256-bit key, as the text that goes into `RECONWB_KEY` or a key file."""
    return base64.urlsafe_b64encode(_random.token_bytes(32)).decode("ascii")


def _decode_key(text: str, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise VaultError(f"the vault key in {where} is not a base64 256-bit key")
    return raw


def key_id(key: bytes) -> str:
    """A short public name for a key, stored next to each blob so a wrong key is named, not guessed."""
    return hashlib.sha256(b"reconwb-key-id:" + key).hexdigest()[:12]


def write_key_file(path: Path, keys: list[str]) -> None:
    """Write a key file atomically with mode 0600."""
    tmp = write_private(path.with_name(path.name + ".tmp"), "\n".join(keys) + "\n", encoding="ascii")
    os.replace(tmp, path)


def ensure_key_file(ws: Workspace) -> Path | None:
    """Create the workspace key file if no key is configured; return the file created, if any."""
    if os.environ.get("RECONWB_KEY"):
        return None
    path = ws.default_key_file
    if path.exists():
        return None
    write_key_file(path, [generate_key()])
    return path


@dataclass(frozen=True)
class _Key:
    id: str
    aead: AESGCM


class Vault:
    """Seals and opens secrets with the newest key; opens with any key of the ring."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise KeyMissing("no vault key")
        # imported here: cryptography costs every command ~25 ms at start, and most never open a secret
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._ring = [_Key(key_id(k), AESGCM(k)) for k in keys]

    def __repr__(self) -> str:
        return f"Vault(key_id={self.key_id!r})"

    @classmethod
    def from_text(cls, *keys: str) -> Vault:
        return cls([_decode_key(k, "the given text") for k in keys])

    @classmethod
    def for_workspace(cls, ws: Workspace) -> Vault:
        env = os.environ.get("RECONWB_KEY")
        if env:
            return cls([_decode_key(env, "RECONWB_KEY")])
        path = ws.default_key_file
        if not path.exists():
            raise KeyMissing(f"no vault key: set RECONWB_KEY or RECONWB_KEY_FILE, or run `reconwb init` ({path})")
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("vault key file %s has mode %o; it should be 0600", path, mode)
        lines = [line for line in path.read_text(encoding="ascii").splitlines() if line.strip()]
        return cls([_decode_key(line, str(path)) for line in lines])

    @property
    def key_id(self) -> str:
        return self._ring[0].id

    def seal(self, plaintext: bytes, owner: str) -> bytes:
        nonce = _random.token_bytes(_NONCE)
        return _MAGIC + nonce + self._ring[0].aead.encrypt(nonce, plaintext, owner.encode())

    def open(self, blob: bytes, owner: str, blob_key_id: str) -> bytes:
        key = next((k for k in self._ring if k.id == blob_key_id), None)
        if key is None:
            raise WrongKey(
                f"secret {owner!r} was sealed with key {blob_key_id}, but the configured key is {self.key_id};"
                " set RECONWB_KEY or RECONWB_KEY_FILE to the key this store was created with"
            )
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + _NONCE + 16:
            raise Tampered(f"secret {owner!r} is not a reconwb sealed blob")
        nonce = blob[len(_MAGIC) : len(_MAGIC) + _NONCE]
        from cryptography.exceptions import InvalidTag

        try:
            return key.aead.decrypt(nonce, blob[len(_MAGIC) + _NONCE :], owner.encode())
        except InvalidTag:
            raise Tampered(f"secret {owner!r} failed authentication: it was modified or moved") from None

    # -- the secrets table -------------------------------------------------------------------------------

    def put(self, con: duckdb.DuckDBPyConnection, owner: str, value: Any) -> None:
        """Seal `value` (anything JSON can hold) under `owner`, replacing what was there."""
        _register_leaves(value)
        blob = self.seal(json.dumps(value).encode("utf-8"), owner)
        con.execute(
            "INSERT INTO secrets (owner, key_id, ciphertext) VALUES (?, ?, ?) "
            "ON CONFLICT (owner) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext,"
            " updated_at = now()",
            [owner, self.key_id, blob],
        )

    def get(self, con: duckdb.DuckDBPyConnection, owner: str) -> Any | None:
        """The value sealed under `owner`, or None. Every string in it is registered for redaction."""
        row = con.execute("SELECT key_id, ciphertext FROM secrets WHERE owner = ?", [owner]).fetchone()
        if row is None:
            return None
        value = json.loads(self.open(bytes(row[1]), owner, row[0]))
        _register_leaves(value)
        return value

    @staticmethod
    def delete(con: duckdb.DuckDBPyConnection, owner: str) -> None:
        con.execute("DELETE FROM secrets WHERE owner = ?", [owner])


def _register_leaves(value: Any) -> None:
    for leaf in _strings(value):
        register_secret(leaf)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


ROTATION_CHUNK = 500  # secrets re-sealed in the first chunk of a rotation (then paced by `store.chunks`)


def rotate_key(ws: Workspace, new_key_file: Path | None = None) -> dict[str, Any]:
    """Re-seal every secret with a new key, in short chunks, resumable; all-or-nothing kept by the key ring.

    The new key is written first as the head of the key file's ring (old keys kept after it), then the secrets
    still sealed with another key are re-sealed chunk by chunk (each chunk one short transaction, so readers
    are not kept waiting however many secrets there are), then the old keys are dropped from the file. Until
    that last step the ring holds both keys, so every secret opens at every moment, whichever key sealed it; a
    rotation killed half-way leaves a ring of several keys, and the next `rotate_key` finishes it with the key
    at the head of the ring instead of making another.
    """
    from reconwb.store import chunks

    old = ws.vault()
    if os.environ.get("RECONWB_KEY") and new_key_file is None:
        raise Conflict(
            "the vault key comes from RECONWB_KEY; pass --new-key-file PATH, then point RECONWB_KEY_FILE at it"
        )
    target = new_key_file or ws.default_key_file
    with ws.connect(read_only=True) as con:  # a wrong key fails here, before any file is touched
        for owner, blob_key_id, blob in con.execute("SELECT owner, key_id, ciphertext FROM secrets").fetchall():
            old.open(bytes(blob), owner, blob_key_id)
    old_keys = _ring_text(ws)
    if new_key_file is None and len(old_keys) > 1:  # a rotation that did not finish: its key heads the ring
        new_key, old_keys = old_keys[0], old_keys[1:]
    else:
        new_key = generate_key()
        write_key_file(target, [new_key, *old_keys])
    new = Vault([_decode_key(new_key, str(target)), *(_decode_key(k, "ring") for k in old_keys)])
    resealed = 0

    def step(con: duckdb.DuckDBPyConnection, size: int) -> tuple[int, bool]:
        nonlocal resealed
        rows = con.execute("SELECT owner, key_id, ciphertext FROM secrets WHERE key_id IS DISTINCT FROM ?"
                           " ORDER BY owner LIMIT ?", [new.key_id, size]).fetchall()
        for owner, blob_key_id, blob in rows:
            con.execute(
                "UPDATE secrets SET key_id = ?, ciphertext = ?, updated_at = now() WHERE owner = ?",
                [new.key_id, new.seal(new.open(bytes(blob), owner, blob_key_id), owner), owner],
            )
        resealed += len(rows)
        return len(rows), len(rows) < size

    chunks.in_chunks(ws.connect, ws.db_path, step, chunks.Pace(first=ROTATION_CHUNK, least=min(
        ROTATION_CHUNK, chunks.MIN_CHUNK_ROWS)))
    write_key_file(target, [new_key])
    return {"resealed": resealed, "key_id": new.key_id, "key_file": str(target)}


def _ring_text(ws: Workspace) -> list[str]:
    env = os.environ.get("RECONWB_KEY")
    if env:
        return [env.strip()]
    return [line.strip() for line in ws.default_key_file.read_text(encoding="ascii").splitlines() if line.strip()]
