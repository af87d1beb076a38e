"""Finding connectors: the built-in ones and those other packages ship.

A third party ships a bank as its own package by declaring an entry point in the `reconwb.connectors` group
that names a `Connector` subclass; `discover()` finds it and `reconwb init` registers its banks.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points

import duckdb

from reconwb import banks
from reconwb.connectors.base import Connector
from reconwb.errors import NotFound

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "reconwb.connectors"
# "module:Class" of the connectors that ship with reconwb
BUILTIN: tuple[str, ...] = (
    "reconwb.connectors.portal_nordic:NordicConnector",
    "reconwb.connectors.portal_alpine:AlpineConnector",
    "reconwb.connectors.portal_atlantic:AtlanticConnector",
    "reconwb.connectors.aggregator:AggregatorConnector",
    "reconwb.connectors.plaid:PlaidConnector",
    "reconwb.connectors.gocardless:GoCardlessConnector",
)


def _load(spec: str) -> type[Connector]:
    module, _, attr = spec.partition(":")
    obj = getattr(import_module(module), attr)
    if not (isinstance(obj, type) and issubclass(obj, Connector)):
        raise TypeError(f"{spec} is not a reconwb Connector")
    return obj


@cache
def discover() -> dict[str, type[Connector]]:
    """Every connector by id: built-ins first, then entry points (a plugin cannot replace a built-in)."""
    found: dict[str, type[Connector]] = {}
    for spec in BUILTIN:
        cls = _load(spec)
        found[cls.id] = cls
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as err:  # a broken plugin must not take reconwb down
            log.warning("connector plugin %s failed to load: %s", ep.name, err)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            log.warning("connector plugin %s is not a Connector subclass", ep.name)
            continue
        found.setdefault(cls.id, cls)
    return found


def get(connector_id: str) -> type[Connector]:
    try:
        return discover()[connector_id]
    except KeyError:
        raise NotFound(f"no connector {connector_id!r}; installed: {', '.join(sorted(discover())) or 'none'}") from None


SIMULATOR_SOURCE = "simulator"


def register_banks(con: duckdb.DuckDBPyConnection, *, include_simulated: bool = False) -> int:
    """Put every discovered connector's real banks in the registry (availability untouched).

    Simulated banks only with `include_simulated` (the demo, `reconwb sim register`, tests): real books hold
    none unless a person adds them on purpose.
    """
    count = 0
    for cls in discover().values():
        for bank in cls.banks:
            if bank.simulated and not include_simulated:
                continue
            source = SIMULATOR_SOURCE if bank.simulated else "builtin"
            banks.register(con, bank.bank_id, bank.name, cls.id, country=bank.country, source=source)
            count += 1
    return count
