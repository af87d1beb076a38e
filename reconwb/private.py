"""Files reconwb creates are the user's alone: 0600 files, 0700 folders, whatever the process umask says.

The store holds bank transactions and sealed credentials, a diagnostics folder holds screenshots of bank pages,
and a run notebook shows what a job saw; none of that is for the other accounts on the machine. Every place that
creates such a file or folder goes through these helpers, which set the mode explicitly (`chmod` after creating)
instead of trusting the umask. Folders that already existed and that reconwb does not own (the parent of a store
given with `--db /tmp/x.duckdb`) are left as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | os.PathLike[str], *, owned: bool = True) -> Path:
    """Create `path` (and missing parents) as 0700 folders; `owned`: also tighten `path` if it existed."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it meanwhile: it is still ours to tighten
            pass
        os.chmod(folder, DIR_MODE)
    if owned and not missing and path.is_dir():
        _tighten(path, DIR_MODE)
    return path


def private_file(path: str | os.PathLike[str]) -> Path:
    """Make an existing file 0600 (a no-op when it already is, or when it is gone)."""
    path = Path(path)
    _tighten(path, FILE_MODE)
    return path


def write_private(path: str | os.PathLike[str], data: bytes | str, *, encoding: str = "utf-8") -> Path:
    """Write `data` to `path`, created 0600 from the start (never readable by others, even for a moment)."""
    path = Path(path)
    private_dir(path.parent, owned=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode through O_CREAT
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode(encoding) if isinstance(data, str) else data)
    return path


def _tighten(path: Path, mode: int) -> None:
    try:
        if path.stat().st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except FileNotFoundError:
        pass
