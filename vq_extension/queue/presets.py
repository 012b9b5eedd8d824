"""Presets of the Submit view (prompt texts and workflow settings, scoped by the view's
mode), kept in the queue database so they follow the user across browsers and the CLI."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ..errors import Conflict, InvalidRequest, NotFound
from ..timestamps import iso
from .executor import DbExecutor
from .records import NewPreset, PresetRecord
from .store import SqliteQueueStore


def preset_view(p: PresetRecord) -> dict[str, Any]:
    view = asdict(p)
    view["created_at"], view["updated_at"] = iso(p.created_at), iso(p.updated_at)
    return view


class PresetService:
    def __init__(self, store: SqliteQueueStore, db: DbExecutor, clock: Callable[[], float] = time.time) -> None:
        self.store, self.db, self.clock = store, db, clock

    async def list(self, kind: str, mode: str) -> dict[str, Any]:
        return {"presets": [preset_view(p) for p in await self.db.run(self.store.list_presets, kind, mode)]}

    async def _linkable(self, link: int | None, mode: str) -> None:
        if link is None:
            return
        target = await self.db.run(self.store.get_preset, link)
        if target is None or target.kind != "prompt" or target.mode != mode:
            raise InvalidRequest(f"prompt_preset_id {link} is not a prompt preset of mode {mode}",
                                 {"param": "prompt_preset_id"})

    async def save(self, new: NewPreset, *, overwrite: bool) -> tuple[dict[str, Any], bool]:
        """Returns (the preset, replaced an existing one)."""
        await self._linkable(new.prompt_preset_id, new.mode)
        saved = await self.db.run(lambda: self.store.save_preset(new, self.clock(), overwrite=overwrite))
        if saved is None:
            raise Conflict(f"a {new.kind} preset named {new.name!r} exists for mode {new.mode}; "
                           "send overwrite: true to replace it", {"name": new.name})
        return preset_view(saved[0]), saved[1]

    async def update(self, preset_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        current = await self.db.run(self.store.get_preset, preset_id)
        if current is None:
            raise NotFound(f"no preset {preset_id}")
        link = (fields["prompt_preset_id"],) if "prompt_preset_id" in fields else None
        if link:
            await self._linkable(link[0], current.mode)
        try:
            updated = await self.db.run(lambda: self.store.update_preset(
                preset_id, self.clock(), name=fields.get("name"), payload=fields.get("payload"), link=link))
        except sqlite3.IntegrityError:
            raise Conflict(f"a {current.kind} preset named {fields.get('name')!r} exists for mode {current.mode}",
                           {"name": fields.get("name")}) from None
        if updated is None:
            raise NotFound(f"no preset {preset_id}")
        return preset_view(updated)

    async def delete(self, preset_id: int) -> dict[str, Any]:
        if not await self.db.run(self.store.delete_preset, preset_id):
            raise NotFound(f"no preset {preset_id}")
        return {"deleted": preset_id}
