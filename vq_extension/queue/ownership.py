"""Who owns a prompt in ComfyUI, when several ComfyUI processes share one database (e.g.
one per GPU on one install: ``--port 8188 --cuda-device 0`` and ``--port 8189 --cuda-device 1``).

Each process's plugin is an *instance* with its own id (host, port, pid, start time). It
claims prompts under that id with a lease, and its dispatcher renews its row and those
leases every few seconds. An instance reconciles and recovers only its own prompts, and a
prompt owned by another instance only when:
- that instance is this one's previous run (same host and port, and its process is gone,
  or it was this very process): ComfyUI restarted, so its queue is gone; or
- its lease expired: the instance stopped renewing (killed, hung, unplugged).
Anything else belongs to a live instance and is left alone, so nothing runs twice.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from .records import InstanceRecord, PromptRecord


@dataclass(frozen=True)
class Instance:
    id: str
    host: str
    port: int | None
    pid: int
    started_at: float

    @classmethod
    def here(cls, *, host: str | None, port: int | None, started_at: float) -> Instance:
        host = host or socket.gethostname()
        pid = os.getpid()
        # The random tail keeps two plugin instances in one process (tests) apart.
        ident = f"{host}:{port if port is not None else '-'}:{pid}:{started_at:.3f}:{uuid.uuid4().hex[:6]}"
        return cls(ident, host, port, pid, started_at)

    def record(self, now: float, lease_seconds: float) -> InstanceRecord:
        return InstanceRecord(self.id, self.host, self.port, self.pid, self.started_at, now, now + lease_seconds)


def pid_alive(pid: int) -> bool:
    """Is a process with this pid running on this machine? True when it cannot be told
    (Windows, where signal 0 is not a probe): the lease then decides."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, someone else's
        return True
    return True


def previous_run(me: Instance, other: InstanceRecord | None) -> bool:
    """Is ``other`` an earlier run of this instance (its ComfyUI queue is gone)?"""
    if other is None or other.id == me.id or other.host != me.host or other.port != me.port:
        return False
    return other.pid == me.pid or not pid_alive(other.pid)


def why_ours(me: Instance, prompt: PromptRecord, instances: Mapping[str, InstanceRecord], now: float) -> tuple[str, float | None] | None:
    """Whether this instance may act on another instance's prompt: (why, lease guard) or
    None. The lease guard is what the store re-checks in the same transaction."""
    owner = instances.get(prompt.owner or "")
    if previous_run(me, owner):
        return "ComfyUI restarted", None
    lease = prompt.lease_expires_at
    if lease is None or lease < now:
        name = f"vq instance {prompt.owner}" if prompt.owner else "an older vq"
        return f"{name} stopped renewing its lease (ComfyUI there stopped or hung)", now
    return None
