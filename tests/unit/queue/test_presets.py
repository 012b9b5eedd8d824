"""Presets in the queue database: save, name conflicts, overwrite, rename, link, delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from vq_extension.errors import Conflict, InvalidRequest, NotFound
from vq_extension.queue.executor import DbExecutor
from vq_extension.queue.presets import PresetService
from vq_extension.queue.records import NewPreset
from vq_extension.queue.store import SqliteQueueStore


@pytest.fixture
def service(tmp_path: Path):
    store = SqliteQueueStore(tmp_path / "vq.sqlite3")
    db = DbExecutor()
    ticks = iter(range(1000, 2000))
    yield PresetService(store, db, clock=lambda: float(next(ticks)))
    db.close()
    store.close()


def prompt(name: str = "pan", mode: str = "batch_video", text: str = "slow pan") -> NewPreset:
    return NewPreset(name=name, kind="prompt", mode=mode, workflow="wan-i2v", payload={"values": {"positive_prompt": text}})


async def test_save_list_and_conflict(service: PresetService) -> None:
    saved, replaced = await service.save(prompt(), overwrite=False)
    assert not replaced and saved["name"] == "pan" and saved["created_at"].endswith("Z")
    await service.save(prompt("another"), overwrite=False)
    await service.save(prompt("pan", mode="image_gen"), overwrite=False)  # another mode: no conflict
    with pytest.raises(Conflict):
        await service.save(prompt(text="other"), overwrite=False)
    again, replaced = await service.save(prompt(text="other"), overwrite=True)
    assert replaced and again["id"] == saved["id"] and again["payload"] == {"values": {"positive_prompt": "other"}}
    assert again["created_at"] == saved["created_at"] and again["updated_at"] != saved["updated_at"]
    listed = await service.list("prompt", "batch_video")
    assert [p["name"] for p in listed["presets"]] == ["another", "pan"]
    assert (await service.list("settings", "batch_video")) == {"presets": []}


async def test_link_rename_and_delete(service: PresetService) -> None:
    p, _ = await service.save(prompt(), overwrite=False)
    s, _ = await service.save(NewPreset(name="fast", kind="settings", mode="batch_video", workflow="wan-i2v",
                                        payload={"params": {"steps": 4}}, prompt_preset_id=p["id"]), overwrite=False)
    assert s["prompt_preset_id"] == p["id"]
    with pytest.raises(InvalidRequest):  # a link must be a prompt preset of the same mode
        await service.save(NewPreset(name="x", kind="settings", mode="image_gen", workflow=None, payload={},
                                     prompt_preset_id=p["id"]), overwrite=False)
    await service.save(prompt("taken"), overwrite=False)
    with pytest.raises(Conflict):
        await service.update(p["id"], {"name": "taken"})
    renamed = await service.update(p["id"], {"name": "pan left"})
    assert renamed["name"] == "pan left" and renamed["payload"] == p["payload"]
    unlinked = await service.update(s["id"], {"prompt_preset_id": None})
    assert unlinked["prompt_preset_id"] is None
    await service.update(s["id"], {"prompt_preset_id": p["id"]})
    assert await service.delete(p["id"]) == {"deleted": p["id"]}
    assert (await service.list("settings", "batch_video"))["presets"][0]["prompt_preset_id"] is None
    with pytest.raises(NotFound):
        await service.delete(p["id"])
    with pytest.raises(NotFound):
        await service.update(p["id"], {"name": "gone"})
