from __future__ import annotations

import threading
import time

import pytest

from reconwb.widgets import idle


def test_outside_a_kernel_the_work_starts_at_once() -> None:
    done = threading.Event()
    idle.after_cells(done.set, name="test-idle", quiet=30, within=30)
    assert done.wait(5)


CELL = """
import time
from reconwb.widgets import idle
marks = {}
idle.after_cells(lambda: marks.setdefault("work", time.monotonic()), name="test-idle", quiet=0.3)
time.sleep(1.0)  # the rest of this cell, still running
marks["cell"] = time.monotonic()
"""


@pytest.mark.kernel
def test_in_a_kernel_the_work_waits_for_the_cells() -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        assert kc.execute_interactive(CELL, timeout=60)["content"]["status"] == "ok"
        kc.execute_interactive("time.sleep(0.5); marks['next cell'] = time.monotonic()", timeout=60)
        time.sleep(2)  # then the kernel is idle: the work runs
        reply = kc.execute_interactive("assert marks['work'] >= marks['next cell'] + 0.3, marks", timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
