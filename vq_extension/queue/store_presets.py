"""The Submit view's presets in the queue database (``PresetQueries``, mixed into
``store.SqliteQueueStore``, which opens the one connection), with their statements."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import AbstractContextManager
from typing import Any

from . import rows as rowmap
from .records import NewPreset, PresetRecord

SELECT_PRESETS = "SELECT * FROM preset WHERE kind = ? AND mode = ? ORDER BY name COLLATE NOCASE, id"
SELECT_PRESET = "SELECT * FROM preset WHERE id = ?"
SELECT_PRESET_BY_NAME = "SELECT * FROM preset WHERE kind = ? AND mode = ? AND name = ?"
INSERT_PRESET = """
INSERT INTO preset (name, kind, mode, workflow, payload_json, prompt_preset_id, created_at, updated_at)
VALUES (:name, :kind, :mode, :workflow, :payload, :prompt_preset_id, :now, :now)
"""
# Overwrite a preset's contents (same name, kind and mode); created_at stays.
OVERWRITE_PRESET = """
UPDATE preset SET workflow = :workflow, payload_json = :payload, prompt_preset_id = :prompt_preset_id,
       updated_at = :now WHERE id = :id
"""
UPDATE_PRESET = """
UPDATE preset SET name = COALESCE(:name, name), payload_json = COALESCE(:payload, payload_json),
       prompt_preset_id = CASE WHEN :set_link THEN :prompt_preset_id ELSE prompt_preset_id END,
       updated_at = :now WHERE id = :id
"""
DELETE_PRESET = "DELETE FROM preset WHERE id = ?"


class PresetQueries:
    _lock: threading.RLock
    _conn: sqlite3.Connection

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:  # provided by the store
        raise NotImplementedError

    def list_presets(self, kind: str, mode: str) -> list[PresetRecord]:
        with self._lock:
            found = self._conn.execute(SELECT_PRESETS, (kind, mode)).fetchall()
        return [rowmap.preset(r) for r in found]

    def get_preset(self, preset_id: int) -> PresetRecord | None:
        with self._lock:
            row = self._conn.execute(SELECT_PRESET, (preset_id,)).fetchone()
        return rowmap.preset(row) if row else None

    def save_preset(self, new: NewPreset, now: float, *, overwrite: bool) -> tuple[PresetRecord, bool] | None:
        """Insert a preset, or with ``overwrite`` replace the one of the same kind, mode and
        name; returns (preset, replaced), or None when the name is taken and not overwriting."""
        values = {"name": new.name, "kind": new.kind, "mode": new.mode, "workflow": new.workflow,
                  "payload": json.dumps(new.payload), "prompt_preset_id": new.prompt_preset_id, "now": now}
        with self._tx() as conn:
            old = conn.execute(SELECT_PRESET_BY_NAME, (new.kind, new.mode, new.name)).fetchone()
            if old is not None and not overwrite:
                return None
            if old is not None:
                conn.execute(OVERWRITE_PRESET, {**values, "id": old["id"]})
                preset_id = old["id"]
            else:
                preset_id = conn.execute(INSERT_PRESET, values).lastrowid
            row = conn.execute(SELECT_PRESET, (preset_id,)).fetchone()
        return rowmap.preset(row), old is not None

    def update_preset(self, preset_id: int, now: float, *, name: str | None = None, payload: Any = None,
                      link: tuple[int | None] | None = None) -> PresetRecord | None:
        """Rename a preset, replace its payload and/or (``link=(id,)``) its prompt-preset link.
        Raises sqlite3.IntegrityError when the new name is taken."""
        with self._tx() as conn:
            cur = conn.execute(UPDATE_PRESET, {
                "id": preset_id, "name": name, "payload": None if payload is None else json.dumps(payload),
                "set_link": link is not None, "prompt_preset_id": link[0] if link else None, "now": now})
            row = conn.execute(SELECT_PRESET, (preset_id,)).fetchone() if cur.rowcount else None
        return rowmap.preset(row) if row else None

    def delete_preset(self, preset_id: int) -> bool:
        with self._tx() as conn:
            return conn.execute(DELETE_PRESET, (preset_id,)).rowcount == 1
