"""Webhooks: signed outbound delivery from the outbox, with retries; verification of inbound webhooks.

`deliver_due(ws)` is the entry point for jobs and the CLI: it sends whatever is due and returns a
`DeliveryReport`. See `delivery` (the worker), `outbox` (the store side), `endpoints`, `signing`, `inbound`.
"""

from reconwb.webhooks.delivery import DeliveryReport, deliver_due, send_test
from reconwb.webhooks.inbound import process_inbound, register_handler

__all__ = ["DeliveryReport", "deliver_due", "process_inbound", "register_handler", "send_test"]
