"""An inbound handler the Jupyter server under test loads: it takes its time, then writes the event to a file."""

from __future__ import annotations

import json
import os
import time


def record(ws, event: dict) -> None:
    time.sleep(float(os.environ.get("RECONWB_PROBE_DELAY", "0")))
    with open(os.environ["RECONWB_PROBE_FILE"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps(event) + "\n")
