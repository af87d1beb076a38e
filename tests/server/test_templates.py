from __future__ import annotations

import asyncio
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from reconwb.server.templates import CompiledTemplates, share_compiled_templates


def _page(folder: Path, cache: CompiledTemplates, *, is_async: bool = False) -> str:
    """A page rendered by a new environment, as Voila makes one per page."""
    template = Environment(loader=FileSystemLoader(folder), bytecode_cache=cache,  # noqa: S701 - text, not HTML
                           enable_async=is_async).get_template("page.j2")
    return asyncio.run(template.render_async(name="Ada")) if is_async else template.render(name="Ada")


def test_a_template_is_compiled_once_for_every_environment_until_it_is_edited(tmp_path: Path) -> None:
    (tmp_path / "page.j2").write_text("Hello {{ name }}")
    cache = CompiledTemplates()
    assert _page(tmp_path, cache) == "Hello Ada"
    stored = dict(cache._stored)
    assert len(stored) == 1
    assert _page(tmp_path, cache) == "Hello Ada" and cache._stored == stored  # taken, not compiled again
    assert _page(tmp_path, cache, is_async=True) == "Hello Ada"  # compiled apart: async code differs
    assert len(cache._stored) == 2
    (tmp_path / "page.j2").write_text("Bye {{ name }}")
    assert _page(tmp_path, cache) == "Bye Ada"  # an edited template is compiled again


def test_every_nbconvert_exporter_shares_them() -> None:
    from nbconvert import HTMLExporter

    from reconwb.server import templates

    share_compiled_templates()
    share_compiled_templates()  # once, however often it is called
    assert HTMLExporter().environment.bytecode_cache is templates.SHARED
