"""Answers of the files routes: paths, browse, uploads, staging (``files/service.py``, ``files/cleanup.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..timestamps import Timestamp


class NormalizedPath(BaseModel):
    input: str = Field(description="the text as sent")
    path: str = Field(description="absolute, symlinks resolved")
    allowed: bool = Field(description="always true here: a path outside the allowed roots is answered 403")
    exists: bool
    kind: Literal["folder", "file"] | None = Field(description="null when it does not exist (or is neither)")
    root: str = Field(description="the allowed root it lies in")
    workflow: str | None
    extensions: list[str] = Field(description="the file extensions counted")
    matching_files: int | None = Field(description="input files it holds (a file: 1 or 0); null if unknown")


class FolderEntry(BaseModel):
    name: str
    path: str
    hidden: bool = Field(description="the name starts with a dot")
    processed: bool = Field(description="a _processed folder (finished sources are moved there)")
    file_count: int | None = Field(description="matching files directly inside; null if unreadable")


class FileEntry(BaseModel):
    name: str
    path: str
    size: int
    mtime: Timestamp
    kind: Literal["image", "video"] | None
    thumbnail_url: str | None = Field(description="images only; relative to the API base (GET /vq/v1/thumbnail)")


class FolderListing(BaseModel):
    path: str
    root: str = Field(description="the allowed root this folder lies in")
    parent: str | None = Field(description="null at the root: navigation stops there")
    folders: list[FolderEntry]
    files: list[FileEntry]
    truncated: bool = Field(description="entries were left out (limit, or a huge folder)")
    roots: list[str] = Field(description="every allowed root")
    extensions: list[str] = Field(description="the file extensions listed")


class UploadResult(BaseModel):
    name: str = Field(description="final file name (sanitized; __2, __3 ... on a collision)")
    original_filename: str = Field(description="the name the client sent")
    subfolder: str = Field(description="relative to ComfyUI's input folder, e.g. vq/uploads")
    type: Literal["input"]
    path: str = Field(description="absolute; can be submitted as a workflow input")
    size: int
    reused: bool = Field(description="an identical file of the same name was kept instead of a new copy")


class FileTally(BaseModel):
    files: int
    bytes: int


class AuditRecord(BaseModel):
    id: int
    at: Timestamp
    action: str = Field(description="delete_staged, delete_temp or delete_partial_upload")
    path: str
    bytes: int | None
    result: Literal["deleted", "gone", "failed", "kept"]
    detail: str | None


class SweepInfo(BaseModel):
    at: Timestamp
    jobs_deleted: int = Field(description="finished jobs older than job_retention_days deleted")
    removed: int
    freed_bytes: int
    failed: int
    error: str | None


class StagingUsage(BaseModel):
    root: str
    files: int = Field(description="staged input files")
    bytes: int
    referenced: FileTally = Field(description="kept: a live prompt or an unfinished job uses them")
    waiting: FileTally = Field(description="not needed, but within retention (or just staged)")
    reclaimable: FileTally = Field(description="a cleanup would remove them now")
    leftovers: FileTally = Field(description="temp and partial-upload files a cleanup would remove too")
    retention_days: float
    sweep_hours: float = Field(description="periodic cleanup interval; 0 = off")
    job_retention_days: float = Field(description="finished jobs are deleted this long after; 0 = kept")
    stage_on_submit: bool
    last_sweep: SweepInfo | None
    audit: list[AuditRecord] = Field(description="newest first")


class StagingFile(BaseModel):
    path: str
    name: str = Field(description="relative to ComfyUI's input folder")
    kind: Literal["staged", "temp", "partial_upload"]
    bytes: int
    shared: bool = Field(description="another hard link (the upload) keeps the data: removing it frees nothing")
    reason: str


class FailedStagingFile(StagingFile):
    error: str


class CleanupResult(BaseModel):
    dry_run: bool
    retention_days: float
    referenced: FileTally
    waiting: FileTally
    files: list[StagingFile] = Field(description="dry run: what would be removed; apply: what was removed")
    bytes: int = Field(description="size of those files")
    freed_bytes: int = Field(description="disk space they free (hard-linked uploads excluded)")
    failed: list[FailedStagingFile] = Field(description="could not be removed; run the cleanup again")
    skipped: list[StagingFile] = Field(description="needed again since the survey; kept")
