"""One reconwb server per workspace folder: the lock a server holds, seen by other processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconwb import resources, serve
from reconwb.errors import InvalidInput
from reconwb.workspace import Workspace
from tests.conftest import ROOT


def test_a_second_server_on_the_same_folder_is_refused_and_a_dead_ones_lock_is_free(tmp_path: Path) -> None:
    ws = Workspace(db_path=tmp_path / "reconwb.duckdb")
    plan = serve.plan(port=serve.free_port(), token="t", root=tmp_path)
    assert plan.config == resources.jupyter_config() and plan.root == tmp_path
    assert serve.serving_pid(tmp_path) is None
    holder = subprocess.Popen(
        [sys.executable, "-c", "import os, sys, time; from pathlib import Path; from reconwb import serve;"
         " fd = serve._claim(Path(sys.argv[1])); os.write(fd, str(os.getpid()).encode());"
         " print('ready', flush=True); time.sleep(120)", str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert serve.serving_pid(tmp_path) == holder.pid
        with pytest.raises(InvalidInput, match=f"already served by another reconwb process \\(pid {holder.pid}\\)"):
            serve.start(ws, plan, quiet=True)
    finally:
        holder.kill()
        holder.wait()
    assert serve.serving_pid(tmp_path) is None
