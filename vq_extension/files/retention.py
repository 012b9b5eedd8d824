"""Retention of staged inputs: which files under `<input>/vq/staged` may go, and removing them.

A staged file is kept while any prompt that names it is live (pending, queued, running,
canceling, interrupted) or any job that uses it is unfinished, because a retry or the
dispatcher's staged-input check needs it. Once every job that used it has finished it
stays `retention` longer (the user may still retry a failed prompt), then it is a
candidate. A file no prompt names (a submit in flight, a database reset) is judged by its
own age instead, and nothing younger than `grace` is ever taken: a submit stages its files
a moment before it writes the job that references them.

Also swept: leftovers of interrupted work, i.e. `.tmp-*` files at the top of the staging
root (Stager temp names) and `.vq-upload-*.part` files in the uploads folder, once nothing
has written to them for `temp_age`.

File times: a staged file's age is max(mtime, ctime). A copy gets a fresh mtime, but a hard
link (an upload staged by link) keeps the upload's old mtime; creating the link updates the
inode's ctime, so the newer of the two is when vq last placed it.

Never followed: symlinks (anything not a regular file by lstat is left alone) and names
that are not vq's. Deleting one name of a hard-linked file frees no space while the other
name (the upload) exists; `shared` says so. Blocking: call through vq's file executor (`FileWork.run`).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import StagingUnwritable
from ..timestamps import iso
from .records import StagedUse
from .staging import Stager

DAY = 86_400.0
GRACE_SECONDS = 3_600.0
TEMP_AGE_SECONDS = 3_600.0

_STAGED = re.compile(r"([0-9a-f]{64})(\.[a-z0-9]{1,10})?")
_STAGER_TEMP = re.compile(r"\.tmp-[0-9a-f]{32}")
_UPLOAD_PART = re.compile(r"\.vq-upload-[0-9a-f]{32}\.part")

Kind = Literal["staged", "temp", "partial_upload"]
Verdict = Literal["referenced", "waiting", "reclaimable"]
Result = Literal["deleted", "gone", "failed", "kept"]


@dataclass(frozen=True)
class Candidate:
    path: Path
    name: str  # relative to the input dir, forward slashes
    kind: Kind
    bytes: int
    shared: bool  # another hard link holds the same data: removing this name frees nothing
    reason: str  # why it may go, for people


@dataclass
class Tally:
    files: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.files += 1
        self.bytes += size


@dataclass
class Survey:
    candidates: list[Candidate] = field(default_factory=list)
    referenced: Tally = field(default_factory=Tally)  # kept: a live prompt or an unfinished job
    waiting: Tally = field(default_factory=Tally)  # kept for now: younger than grace or retention
    reclaimable: Tally = field(default_factory=Tally)  # staged candidates
    leftovers: Tally = field(default_factory=Tally)  # temp and partial-upload candidates

    @property
    def staged(self) -> Tally:
        return Tally(
            self.referenced.files + self.waiting.files + self.reclaimable.files,
            self.referenced.bytes + self.waiting.bytes + self.reclaimable.bytes,
        )


@dataclass(frozen=True)
class Outcome:
    candidate: Candidate
    result: Result
    detail: str  # the error, or why a candidate was kept at the last moment


class Retention:
    def __init__(
        self,
        stager: Stager,
        uploads_dir: Path,
        *,
        retention_seconds: float,
        grace_seconds: float = GRACE_SECONDS,
        temp_age_seconds: float = TEMP_AGE_SECONDS,
        unlink: Callable[[Path], None] = os.unlink,
    ) -> None:
        self.stager, self.uploads_dir = stager, uploads_dir
        self.retention, self.grace, self.temp_age = retention_seconds, grace_seconds, temp_age_seconds
        self.unlink = unlink  # injectable: tests make single deletions fail

    def survey(self, refs: Mapping[str, StagedUse], now: float) -> Survey:
        """Sort every staged file into referenced / waiting / reclaimable, and find leftovers."""
        survey = Survey()
        for path, name, st in self._staged_files():
            verdict, reason = self._judge(name, st, refs, now)
            getattr(survey, verdict).add(st.st_size)
            if verdict == "reclaimable":
                survey.candidates.append(_candidate(path, name, "staged", st, reason))
        for path, kind, st in self._leftovers():
            age = now - _touched(st)
            if age >= self.temp_age:
                name = self._relative(path)
                reason = f"left over by interrupted work; untouched since {iso(_touched(st))}"
                survey.leftovers.add(st.st_size)
                survey.candidates.append(_candidate(path, name, kind, st, reason))
        return survey

    def remove(self, candidates: list[Candidate], refs: Mapping[str, StagedUse], now: float) -> list[Outcome]:
        """Delete candidates, judging each again just before (with fresh `refs`).

        Never raises for one file: a failure is an Outcome, and the file stays a candidate,
        so running the cleanup again finishes the job.
        """
        outcomes = []
        for cand in candidates:
            # Held from the last look to the delete: a submit reusing the file waits, then
            # finds it gone and stages it again; or it refreshed it first and we keep it.
            try:
                with self.stager.holding():
                    outcomes.append(self._remove_one(cand, refs, now))
            except StagingUnwritable as exc:  # nothing in that folder can be deleted either
                outcomes.append(Outcome(cand, "failed", exc.message))
        return outcomes

    def _remove_one(self, cand: Candidate, refs: Mapping[str, StagedUse], now: float) -> Outcome:
        try:
            st = os.lstat(cand.path)
        except FileNotFoundError:
            return Outcome(cand, "gone", "already removed")
        except OSError as exc:
            return Outcome(cand, "failed", exc.strerror or str(exc))
        still, why = self._still_removable(cand, st, refs, now)
        if not still:
            return Outcome(cand, "kept", why)
        try:
            self.unlink(cand.path)
        except FileNotFoundError:
            return Outcome(cand, "gone", "already removed")
        except OSError as exc:
            return Outcome(cand, "failed", exc.strerror or str(exc))
        return Outcome(cand, "deleted", cand.reason)

    # --- judging ------------------------------------------------------------------------

    def _judge(self, name: str, st: os.stat_result, refs: Mapping[str, StagedUse], now: float) -> tuple[Verdict, str]:
        ref = refs.get(name)
        if ref is not None and ref.live:
            return "referenced", "a live prompt uses it"
        if ref is not None and ref.unfinished:
            return "referenced", "a job using it has not finished"
        touched = _touched(st)
        if now - touched < self.grace:
            return "waiting", f"staged at {iso(touched)}, less than {_hours(self.grace)} ago"
        if ref is not None and ref.last_finished is not None:
            since, what = ref.last_finished, f"its last job finished at {iso(ref.last_finished)}"
        else:
            since, what = touched, f"no prompt references it; staged at {iso(touched)}"
        if now - since < self.retention:
            return "waiting", f"{what}; kept until {iso(since + self.retention)}"
        return "reclaimable", what

    def _still_removable(
        self, cand: Candidate, st: os.stat_result, refs: Mapping[str, StagedUse], now: float
    ) -> tuple[bool, str]:
        if not stat.S_ISREG(st.st_mode):
            return False, "no longer a regular file"
        if cand.kind != "staged":
            fresh = now - _touched(st) >= self.temp_age
            return fresh, "" if fresh else "written to again since the survey"
        verdict, reason = self._judge(cand.name, st, refs, now)
        return verdict == "reclaimable", reason

    # --- walking --------------------------------------------------------------------------

    def _staged_files(self) -> Iterator[tuple[Path, str, os.stat_result]]:
        """(path, staged name, lstat) of every file under the root that has a vq staged name."""
        for shard in _scandir(self.stager.root):
            if not re.fullmatch(r"[0-9a-f]{2}", shard.name) or not shard.is_dir(follow_symlinks=False):
                continue
            for entry in _scandir(Path(shard.path)):
                match = _STAGED.fullmatch(entry.name)
                if not match:
                    continue
                name = f"{self.stager.subdir}/{shard.name}/{entry.name}"
                if self.stager.name_for(match.group(1), match.group(2) or "") != name:
                    continue  # right shape, wrong shard: not a name vq would create
                st = _lstat(entry)
                if st is not None and stat.S_ISREG(st.st_mode):
                    yield Path(entry.path), name, st

    def _leftovers(self) -> Iterator[tuple[Path, Kind, os.stat_result]]:
        for entry in _scandir(self.stager.root):
            st = _lstat(entry) if _STAGER_TEMP.fullmatch(entry.name) else None
            if st is not None and stat.S_ISREG(st.st_mode):
                yield Path(entry.path), "temp", st
        # Uploads land in sub-folders too; a .part sits next to the file it becomes.
        for folder, dirs, files in os.walk(self.uploads_dir, followlinks=False):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
            for name in files:
                if not _UPLOAD_PART.fullmatch(name):
                    continue
                path = Path(folder, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield path, "partial_upload", st

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.stager.input_dir).as_posix()


def _candidate(path: Path, name: str, kind: Kind, st: os.stat_result, reason: str) -> Candidate:
    return Candidate(path, name, kind, st.st_size, st.st_nlink > 1, reason)


def _touched(st: os.stat_result) -> float:
    return max(st.st_mtime, st.st_ctime)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} hour(s)"


def _scandir(path: Path) -> list[os.DirEntry[str]]:
    # A missing folder holds nothing; an unreadable one raises (the caller reports it).
    try:
        with os.scandir(path) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _lstat(entry: os.DirEntry[str]) -> os.stat_result | None:
    try:
        return entry.stat(follow_symlinks=False)
    except OSError:
        return None
