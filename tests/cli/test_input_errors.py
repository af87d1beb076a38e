"""Bad input as a new user types it: one `error:` line, a non-zero exit, and nothing changed."""

from __future__ import annotations

import json
import subprocess

from reconwb.vault import generate_key, write_key_file


def one_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode != 0, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
    return done.stderr


def test_rules_check_on_a_binary_file(run_cli, tmp_path) -> None:
    binary = tmp_path / "rules.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" + bytes(range(256)))
    one_error(run_cli("rules", "check", str(binary)), "not UTF-8 text")


def test_a_lock_timeout_that_is_not_a_number(run_cli) -> None:
    for value in ("abc", "-1", "nan"):
        one_error(run_cli("connections", "list", env={"RECONWB_LOCK_TIMEOUT": value}), "RECONWB_LOCK_TIMEOUT", value)
    assert run_cli("connections", "list", env={"RECONWB_LOCK_TIMEOUT": "2.5"}).returncode == 0


def test_portal_urls_must_be_http(run_cli) -> None:
    run_cli("sim", "register", check=True)
    for url in ("ftp://x", "file:///etc/passwd", "javascript:alert(1)", "http://", "bank.example/login",
                "http://bank example"):
        one_error(run_cli("connections", "add", "acme", "--bank", "sim-nordic", "--portal-url", url), "http")
    assert json.loads(run_cli("connections", "list", "--json", check=True).stdout) == []
    run_cli("connections", "add", "acme", "--bank", "sim-nordic", "--portal-url", "https://bank.example/n", check=True)


def test_connection_names_are_printable_and_short(run_cli) -> None:
    for name, words in [("acme\nbank", "printable"), ("acme\tbank", "printable"), ("a\x1b[31m", "printable"),
                        ("x" * 65, "at most 64"), (" acme", "surrounding"), ("a/b", "'/'")]:
        one_error(run_cli("connections", "add", name, "--bank", "files"), words)
    assert json.loads(run_cli("connections", "list", "--json", check=True).stdout) == []
    run_cli("connections", "add", "Zürich Kantonalbank – CHF", "--bank", "files", check=True)
    run_cli("connections", "add", "x" * 64, "--bank", "files", check=True)


def test_rotate_key_with_a_wrong_key_leaves_every_file_as_it_was(run_cli, ws, tmp_path) -> None:
    run_cli("connections", "add", "acme", "--bank", "sim-nordic", check=True)
    run_cli("connections", "credentials", "acme", "--password-stdin", "--no-check", input="pw-abcdef\n", check=True)
    wrong = tmp_path / "wrong.key"
    write_key_file(wrong, [generate_key()])
    files = {p: p.read_bytes() for p in (ws.default_key_file, wrong)}
    with ws.connect() as con:
        sealed = con.execute("SELECT owner, key_id, ciphertext FROM secrets ORDER BY owner").fetchall()
    one_error(run_cli("vault", "rotate-key", env={"RECONWB_KEY_FILE": str(wrong)}), "key")
    one_error(run_cli("vault", "rotate-key", "--new-key-file", str(tmp_path / "new.key"),
                      env={"RECONWB_KEY_FILE": str(wrong)}), "key")
    assert {p: p.read_bytes() for p in files} == files and not (tmp_path / "new.key").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    with ws.connect() as con:
        assert con.execute("SELECT owner, key_id, ciphertext FROM secrets ORDER BY owner").fetchall() == sealed
    assert json.loads(run_cli("vault", "rotate-key", "--json", check=True).stdout)["resealed"] == 1  # right key


def test_version(run_cli) -> None:
    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("reconwb ") and done.stdout.strip() != "reconwb"
