"""What `reconwb serve` shows: the workspace folder, with the built-in dashboards under `dashboards/`.

JupyterLab and Voila serve one root folder, the workspace; the dashboards ship inside the package (see
`reconwb.resources`). This contents manager keeps the page addresses stable (`/voila/render/dashboards/NAME.ipynb`)
wherever reconwb is installed: a `dashboards/NAME.ipynb` the workspace has is served as it is (so a workspace can
replace a built-in dashboard or add its own); one it lacks is read from the package. Saving, renaming or deleting
always acts on the workspace, never on the installed package: saving a built-in dashboard makes the workspace's
own copy.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from jupyter_server.services.contents.filemanager import AsyncFileContentsManager
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

from reconwb import resources


class WorkspaceContentsManager(AsyncLargeFileManager):
    """The workspace folder, plus the package's dashboards wherever the workspace has none of that name."""

    @cached_property
    def _package(self) -> AsyncFileContentsManager:
        """A read-only view rooted where the package keeps `dashboards/`, so API paths mean the same there."""
        return AsyncFileContentsManager(root_dir=str(resources.builtin_dir(resources.DASHBOARDS).parent),
                                        log=self.log)

    def _from_package(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        if parts[0] != resources.DASHBOARDS or len(parts) > 2:
            return False
        own = self._get_os_path(path.strip("/"))
        packaged = resources.builtin_dir(resources.DASHBOARDS).parent.joinpath(*parts)
        return not os.path.exists(own) and packaged.exists()

    async def get(self, path: str, content: bool = True, type: str | None = None, format: str | None = None,
                  require_hash: bool = False) -> dict[str, Any]:
        if self._from_package(path):
            model = await self._package.get(path, content=content, type=type, format=format,
                                            require_hash=require_hash)
            model["writable"] = False  # saving makes the workspace's own copy, see `save`
            return model
        return await super().get(path, content=content, type=type, format=format, require_hash=require_hash)

    async def file_exists(self, path: str = "") -> bool:
        return await self._package.file_exists(path) if self._from_package(path) else await super().file_exists(path)

    async def dir_exists(self, path: str) -> bool:
        return await self._package.dir_exists(path) if self._from_package(path) else await super().dir_exists(path)

    async def is_hidden(self, path: str) -> bool:
        return False if self._from_package(path) else await super().is_hidden(path)

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        if self._from_package(path) or path.strip("/").startswith(f"{resources.DASHBOARDS}/"):
            os.makedirs(self._get_os_path(resources.DASHBOARDS), exist_ok=True)  # the workspace's own copy
        return await super().save(model, path)
