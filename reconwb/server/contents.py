"""What `reconwb serve` shows: the workspace folder, with the built-in dashboards under `dashboards/`.

JupyterLab and Voila serve one root folder, the workspace; the dashboards ship inside the package (see
`reconwb.resources`). This contents manager keeps the page addresses stable (`/voila/render/dashboards/NAME.ipynb`)
wherever reconwb is installed: a `dashboards/NAME.ipynb` the workspace has is served as it is (so a workspace can
replace a built-in dashboard or add its own); one it lacks is read from the package. Saving, renaming or deleting
always acts on the workspace, never on the installed package: saving a built-in dashboard makes the workspace's
own copy.
"""

from __future__ import annotations

import contextvars
import os
from typing import Any

from jupyter_core.paths import is_hidden
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

from reconwb import resources

_WRITING = contextvars.ContextVar("reconwb_contents_writing", default=False)


def builtin_path(api_path: str) -> str | None:
    """The package file behind API path `dashboards` or `dashboards/NAME`, or None for any other path."""
    parts = api_path.strip("/").split("/")
    if parts[0] != resources.DASHBOARDS or len(parts) > 2:
        return None
    folder = resources.builtin_dir(resources.DASHBOARDS)
    return str(folder if len(parts) == 1 else folder / parts[1])


class WorkspaceContentsManager(AsyncLargeFileManager):
    """The workspace folder, plus the package's dashboards wherever the workspace has none of that name."""

    def _fallback(self, path: str) -> str | None:
        if _WRITING.get():
            return None
        own = super()._get_os_path(path)
        if os.path.exists(own):
            return None
        builtin = builtin_path(path)
        return builtin if builtin is not None and os.path.exists(builtin) else None

    def _get_os_path(self, path: str) -> str:
        return self._fallback(path) or super()._get_os_path(path)

    async def is_hidden(self, path: str) -> bool:
        builtin = self._fallback(path.strip("/"))
        if builtin is not None:  # hidden-ness of a package file counts from the package's folder, not the root
            return is_hidden(builtin, str(resources.builtin_dir(resources.DASHBOARDS).parent))
        return await super().is_hidden(path)

    async def _in_workspace(self, method: Any, *args: Any) -> Any:
        token = _WRITING.set(True)
        try:
            return await method(*args)
        finally:
            _WRITING.reset(token)

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        if builtin_path(path) is not None:  # the workspace's first own dashboard: make its folder
            os.makedirs(os.path.dirname(super()._get_os_path(path)), exist_ok=True)
        return await self._in_workspace(super().save, model, path)

    async def delete_file(self, path: str) -> None:
        return await self._in_workspace(super().delete_file, path)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        return await self._in_workspace(super().rename_file, old_path, new_path)
