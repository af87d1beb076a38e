from __future__ import annotations

import json


def test_connections_list_json_empty_and_populated(run_cli) -> None:
    done = run_cli("connections", "list", "--json", check=True)
    assert json.loads(done.stdout) == []
    run_cli("banks", "add", "b1", "--name", "Bank One", "--connector", "sim-classic", check=True)
    run_cli("connections", "add", "acme", "--bank", "b1", "--username", "alice", check=True)
    run_cli("connections", "add", "files1", "--bank", "files", check=True)
    rows = json.loads(run_cli("connections", "list", "--json", check=True).stdout)
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"acme", "files1"}
    for row in rows:
        assert {"name", "bank", "connector", "health", "health_reason", "last_success_at"} <= set(row)
    assert by_name["acme"]["health"] == "reconnect_required"
    assert by_name["files1"]["health"] == "ok"


def test_password_from_stdin_is_stored_never_echoed(run_cli, ws) -> None:
    run_cli("banks", "add", "b1", "--name", "Bank One", "--connector", "sim-classic", check=True)
    run_cli("connections", "add", "acme", "--bank", "b1", check=True)
    done = run_cli("connections", "credentials", "acme", "--password-stdin", "--no-check", input="s3cr3t-pw\n",
                   check=True)
    assert "s3cr3t-pw" not in done.stdout + done.stderr
    rows = json.loads(run_cli("connections", "list", "--json", check=True).stdout)
    assert rows[0]["health"] == "refreshing"
    assert "s3cr3t-pw" not in json.dumps(rows)


def test_errors_are_one_line_nonzero_without_traceback(run_cli) -> None:
    cases = [
        ("connections", "add", "x", "--bank", "nope"),
        ("connections", "remove", "ghost"),
        ("connections", "add"),
        ("connections", "add", "x", "--bank", "files", "--login-mode", "sideways"),
        ("settings", "set", "operation_mode", "chaos"),
        ("no-such-command",),
    ]
    for args in cases:
        done = run_cli(*args)
        assert done.returncode != 0, args
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert done.stdout == ""


def test_password_is_never_an_argument(run_cli) -> None:
    done = run_cli("connections", "credentials", "acme", "--password", "x")
    assert done.returncode == 2 and done.stderr.startswith("error: ")


def test_bank_disable_hides_it_from_new_connections(run_cli) -> None:
    run_cli("banks", "add", "b1", "--name", "Bank One", "--connector", "sim-classic", check=True)
    run_cli("banks", "disable", "b1", check=True)
    listed = json.loads(run_cli("banks", "list", "--available", "--json", check=True).stdout)
    assert "b1" not in [b["bank_id"] for b in listed]
    done = run_cli("connections", "add", "acme", "--bank", "b1")
    assert done.returncode != 0 and "not available" in done.stderr
    run_cli("banks", "enable", "b1", check=True)
    run_cli("connections", "add", "acme", "--bank", "b1", check=True)


def test_vault_rotate_key_via_cli(run_cli) -> None:
    run_cli("banks", "add", "b1", "--name", "Bank One", "--connector", "sim-classic", check=True)
    run_cli("connections", "add", "acme", "--bank", "b1", check=True)
    run_cli("connections", "credentials", "acme", "--password-stdin", "--no-check", input="pw-abcdef\n", check=True)
    result = json.loads(run_cli("vault", "rotate-key", "--json", check=True).stdout)
    assert result["resealed"] == 1
