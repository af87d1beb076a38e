"""Keeping credentials out of job parameters and job output notebooks.

Parameters are stored in the run history and injected as source code into the output notebook, so a parameter
must never carry a credential: names and values that look like one are refused before a kernel starts.

Output notebooks hold whatever the kernel printed, including what a careless connector printed. Before an
output notebook is stored it is scrubbed with `reconwb.redaction.redact`, after the runner has registered the
workspace's own secrets (bank credentials, webhook tokens), so a password is masked even where it appears bare
and no pattern could recognise it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from reconwb.errors import InvalidInput
from reconwb.redaction import redact
from reconwb.workspace import Workspace

if TYPE_CHECKING:
    import nbformat

_SECRET_NAME = re.compile(
    r"(?i)(password|passwd|pwd|passcode|secret|token|api[_-]?key|credential|otp|private[_-]?key|auth|cookie)"
)


def check_parameters(parameters: dict[str, Any]) -> None:
    """Refuse a parameter whose name or value looks like a credential (InvalidInput names it, not its value)."""
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidInput(f"job parameter name {name!r} is not a Python identifier")
        if _SECRET_NAME.search(name):
            raise InvalidInput(
                f"job parameter {name!r} looks like a credential; job kernels read secrets from the vault,"
                " never from parameters"
            )
        for text in _strings(value):
            if redact(text) != text:
                raise InvalidInput(
                    f"the value of job parameter {name!r} looks like a credential; job kernels read secrets from"
                    " the vault, never from parameters"
                )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def register_workspace_secrets(ws: Workspace) -> int:
    """Teach this process's redaction the workspace's secrets (not session state); return how many owners.

    Portal session state is left out: it is mostly cookie names and host names, which would mask half a
    notebook, and it holds no password.
    """
    from reconwb.vault import KeyMissing

    try:
        vault = ws.vault()
    except KeyMissing:
        return 0
    with ws.connect() as con:
        owners = [r[0] for r in con.execute("SELECT owner FROM secrets WHERE owner NOT LIKE 'session/%'").fetchall()]
        for owner in owners:
            vault.get(con, owner)  # registers every string of the value for redaction
    return len(owners)


def scrub(value: Any) -> Any:
    """`value` with every string redacted, recursively (dicts, lists, notebook nodes); images are left as they are."""
    import nbformat

    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        items = {k: (v if str(k).startswith("image/") else scrub(v)) for k, v in value.items()}
        return nbformat.NotebookNode(items) if isinstance(value, nbformat.NotebookNode) else items
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def scrub_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` with every source, output, traceback and metadata string redacted."""
    return scrub(nb)
