"""Voila's page templates compiled once per server, not once per page.

Voila makes a new nbconvert exporter, with a new Jinja environment, for every page it renders, and Jinja compiles
a template once per environment: every dashboard page parsed and compiled its template chain (the `reconwb`
template, Voila's lab template, nbconvert's base templates and macros) again before its first byte. Sampled in
the server (py-spy, 1M store, load 2-3): 0.26 s of the server's main thread per page, ahead of everything the
page shows. Jinja's own answer is a bytecode cache; nbconvert takes none by configuration, so
`share_compiled_templates` gives every exporter's environment the server's one (in memory, keyed by the
template's name, file and whether it renders asynchronously, and checked against the template's source, so an
edited template is compiled again).
"""

from __future__ import annotations

from typing import Any

from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket


class CompiledTemplates(BytecodeCache):
    """Compiled templates in this process's memory, for every Jinja environment that is given it."""

    def __init__(self) -> None:
        self._stored: dict[str, bytes] = {}

    def get_bucket(self, environment: Environment, name: str, filename: str | None, source: str) -> Bucket:
        # an asynchronous environment compiles the same template differently
        return super().get_bucket(environment, f"{environment.is_async}:{name}", filename, source)

    def load_bytecode(self, bucket: Bucket) -> None:
        stored = self._stored.get(bucket.key)
        if stored is not None:
            bucket.bytecode_from_string(stored)  # dropped by Jinja when the source's checksum differs

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._stored[bucket.key] = bucket.bytecode_to_string()


SHARED = CompiledTemplates()


def share_compiled_templates() -> None:
    """Every nbconvert exporter made from now on in this process (Voila's, one per page) uses `SHARED`."""
    from nbconvert.exporters.templateexporter import TemplateExporter

    create = TemplateExporter._create_environment
    if getattr(create, "shares_compiled", False):
        return

    def _create_environment(self: Any) -> Environment:
        environment = create(self)
        environment.bytecode_cache = SHARED
        return environment

    _create_environment.shares_compiled = True  # type: ignore[attr-defined]
    TemplateExporter._create_environment = _create_environment  # type: ignore[method-assign]
