"""No credential in job parameters; none in stored output notebooks."""

from __future__ import annotations

import nbformat
import pytest

from reconwb import banks, connections
from reconwb.errors import InvalidInput
from reconwb.jobs.scrub import check_parameters, register_workspace_secrets, scrub_notebook
from reconwb.redaction import forget_secrets
from reconwb.workspace import Workspace


@pytest.mark.parametrize(
    "params",
    [
        {"password": "x"},
        {"api_key": "x"},
        {"bank_token": "abc"},
        {"note": "password=hunter22"},
        {"headers": ["Authorization: Bearer abc.def"]},
        {"url": "whsec_c2VjcmV0"},
        {"not an identifier": 1},
    ],
)
def test_parameters_that_look_like_credentials_are_refused(params: dict) -> None:
    with pytest.raises(InvalidInput) as err:
        check_parameters(params)
    assert "hunter22" not in str(err.value) and "abc.def" not in str(err.value)


def test_ordinary_parameters_pass() -> None:
    check_parameters({"connections": ["c1", "c2"], "since": "2026-01-01", "now": False, "concurrency": 4})


def test_a_stored_password_is_refused_as_a_value_and_scrubbed_from_outputs(ws: Workspace) -> None:
    with ws.connect() as con:
        banks.register(con, "b", "B", "portal")
        connections.add(con, "c", "b", username="u")
        connections.set_credentials(con, ws.vault(), "c", {"password": "plain-words-42"})
    forget_secrets()  # as in a fresh runner process that never saw the password
    check_parameters({"note": "plain-words-42"})  # nothing known yet: it looks like an ordinary word
    assert register_workspace_secrets(ws) == 1
    with pytest.raises(InvalidInput):
        check_parameters({"note": "plain-words-42"})

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(pw)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="bank said: plain-words-42 is wrong\n"),
        nbformat.v4.new_output("error", ename="E", evalue="plain-words-42", traceback=["x plain-words-42"]),
        nbformat.v4.new_output("display_data", data={"text/plain": "plain-words-42", "image/png": "iVBORw0K"}),
    ]
    nb.cells = [cell]
    nb.metadata["papermill"] = {"parameters": {"note": "plain-words-42"}}
    clean = scrub_notebook(nb)
    assert "plain-words-42" not in nbformat.writes(clean)
    assert clean.cells[0].outputs[0].text == "bank said: *** is wrong\n"
    assert clean.cells[0].outputs[2].data["image/png"] == "iVBORw0K"
    nbformat.validate(clean)


def test_cli_refuses_a_secret_parameter_before_starting_a_kernel(ws: Workspace, run_cli) -> None:
    with ws.connect() as con:
        banks.register(con, "b", "B", "portal")
        connections.add(con, "c", "b", username="u")
        connections.set_credentials(con, ws.vault(), "c", {"password": "plain-words-42"})
    bare = run_cli("jobs", "run", "sync", "-p", "connections", "plain-words-42")
    assert bare.returncode == 2 and "'connections' looks like a credential" in bare.stderr
    assert "plain-words-42" not in bare.stderr
    done = run_cli("jobs", "run", "sync", "-p", "password", "hunter22")
    assert done.returncode == 2
    assert done.stderr.startswith("error: job parameter 'password' looks like a credential")
    assert "hunter22" not in done.stderr
    unknown = run_cli("jobs", "run", "sync", "-p", "colour", "blue")
    assert unknown.returncode == 2 and "has no parameter 'colour'" in unknown.stderr
    missing = run_cli("jobs", "run", "nosuchjob")
    assert missing.returncode == 2 and "no job notebook 'nosuchjob'" in missing.stderr
