"""Path normalization and allowed roots for every path a user hands to vq.

Users paste paths from Windows Explorer, WSL shells, file managers and chat windows, so
`normalize` accepts Linux paths, `~`, Windows drive paths (mapped to the WSL mount when
ComfyUI runs under WSL), `\\\\wsl.localhost\\<distro>\\...` / `\\\\wsl$\\...` shares, `file://`
URIs, surrounding quotes and copy-paste whitespace. `AllowedRoots` then decides whether the
resolved path may be touched at all: ComfyUI has no authentication, so this check is the
only thing between a browser on the LAN and the rest of the disk.

Containment is always decided on realpath'd values with `os.path.commonpath`, never with
string prefixes (`/data/input-evil` starts with `/data/input`).
"""

from __future__ import annotations

import configparser
import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

MAX_PATH_BYTES = 4096  # PATH_MAX on Linux
MAX_NAME_BYTES = 255  # NAME_MAX on ext4, btrfs, xfs

# Matching pairs only: a lone quote inside a name is a legal character.
_QUOTE_PAIRS = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "`": "`"}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # 2+ chars, so `C:` is not a scheme
_DRIVE = re.compile(r"^([A-Za-z]):(.*)$", re.S)
_WSL_HOSTS = {"wsl.localhost", "wsl$"}
_ADD_ROOT_HINT = (
    "To allow another folder, add it to the VQ_ALLOWED_ROOTS environment variable or to "
    "`allowed_roots:` in vq.yaml, then restart ComfyUI."
)


class PathInvalid(ValueError):
    """The text is not a usable absolute path (maps to HTTP 400)."""


class PathNotAllowed(Exception):
    """A well-formed path that lies outside every allowed root (maps to HTTP 403).

    `path` is the path as the user gave it (normalized, symlinks NOT followed): naming
    where a symlink leads would tell a remote caller about folders vq must not show
    (`/proc/self/cwd` is ComfyUI's working directory).
    """

    def __init__(self, path: Path, roots: Sequence[Path]):
        self.path = path
        self.roots = list(roots)
        allowed = ", ".join(str(r) for r in self.roots) or "(none configured)"
        super().__init__(
            f"{path} is outside the allowed folders (it, or a link in it, leads elsewhere). "
            f"Allowed roots: {allowed}. {_ADD_ROOT_HINT}"
        )


def is_wsl() -> bool:
    """True when this Linux is a WSL distribution (Windows drives live under the mount root)."""
    return bool(os.environ.get("WSL_DISTRO_NAME")) or _kernel_says_microsoft()


_detect_wsl = is_wsl  # `normalize` has a parameter of the same name


@functools.lru_cache(maxsize=1)
def _kernel_says_microsoft() -> bool:
    try:
        return "microsoft" in Path("/proc/version").read_text(errors="replace").lower()
    except OSError:
        return False


@functools.lru_cache(maxsize=1)
def wsl_mount_root() -> Path:
    """Where WSL mounts Windows drives: `[automount] root` in /etc/wsl.conf, else /mnt."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read("/etc/wsl.conf", encoding="utf-8")
        root = parser.get("automount", "root", fallback="/mnt").strip().strip("\"'")
    except (configparser.Error, UnicodeDecodeError):
        root = "/mnt"
    return Path(root or "/mnt")


def normalize(
    raw: str,
    *,
    is_wsl: bool | None = None,
    home: Path | None = None,
    mount_root: Path | None = None,
) -> Path:
    """Turn pasted text into an absolute, resolved Linux path (symlinks followed).

    Raises PathInvalid with a message the user can act on. Does not check allowed roots;
    use `AllowedRoots.resolve` for anything that will be read or written.
    """
    return _real(absolute(raw, is_wsl=is_wsl, home=home, mount_root=mount_root))


def absolute(
    raw: str,
    *,
    is_wsl: bool | None = None,
    home: Path | None = None,
    mount_root: Path | None = None,
) -> str:
    """Pasted text as an absolute Linux path, symlinks not followed (see `normalize`)."""
    if not isinstance(raw, str):
        raise PathInvalid(f"a path must be text, not {type(raw).__name__}")
    text = _strip_paste_noise(raw)
    if not text:
        raise PathInvalid("the path is empty")
    on_wsl = _detect_wsl() if is_wsl is None else is_wsl
    scheme = _SCHEME.match(text)
    if scheme:
        if scheme.group(1).lower() != "file":
            raise PathInvalid(
                f"unsupported scheme {scheme.group(1)!r} — give a folder path on this "
                "machine (a Linux path, a Windows path, or a file:// URI)"
            )
        text = _from_file_uri(text)
    if _is_unc(text):
        text = _from_unc(text)
    posix = _from_windows_drive(text, on_wsl, mount_root) if _DRIVE.match(text) else text
    if posix == "~" or posix.startswith("~/"):
        posix = str(home if home is not None else Path.home()) + posix[1:]
    elif posix.startswith("~"):
        raise PathInvalid(
            f"{raw.strip()!r}: only `~` (the home of the user running ComfyUI) is supported; "
            "give the full path instead"
        )
    if not posix.startswith("/"):
        raise PathInvalid(
            f"{raw.strip()!r} is a relative path; give the full path (for example "
            "/home/me/pictures or C:\\Users\\me\\Pictures)"
        )
    _check_limits(posix)
    return posix


def _real(posix: str, *, loops: bool = True) -> Path:
    """realpath, with an unreadable link (`/proc/1/cwd` of another user) or a loop as PathInvalid."""
    try:
        resolved = Path(os.path.realpath(posix))
        # realpath gives up on a symlink loop and returns the rest unresolved; a resolved
        # path never has a symlink among its components otherwise.
        looped = loops and any(p.is_symlink() for p in (resolved, *resolved.parents))
    except OSError as exc:
        raise PathInvalid(f"{posix} cannot be read ({exc.strerror or exc}); give a folder vq can read") from None
    if looped:
        raise PathInvalid(f"{posix} cannot be resolved: it runs into a symlink loop")
    return resolved


def _strip_paste_noise(raw: str) -> str:
    # Terminals and chat apps wrap long paths by inserting line breaks; a real file name
    # with CR/LF in it is far rarer than a wrapped paste, so both are dropped everywhere.
    text = raw.replace("\r", "").replace("\n", "").strip()
    while len(text) >= 2 and _QUOTE_PAIRS.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def _from_file_uri(text: str) -> str:
    parts = urlsplit(text)
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise PathInvalid(
            "a file:// URI must not contain '?' or '#'; encode them as %3F and %23 "
            "or paste the plain path"
        )
    # In a URI, percent escapes are part of the syntax, so %2F is a separator and %00 a NUL
    # (refused below). Undecodable bytes become surrogates, like os.fsdecode does.
    path = unquote(parts.path, errors="surrogateescape")
    host = parts.netloc
    if host and host.lower() != "localhost":
        return "\\\\" + host + path.replace("/", "\\")  # file://server/share -> UNC
    if re.match(r"^/[A-Za-z]:(/|$)", path):  # file:///C:/Users/...
        return path[1:]
    return path


def _is_unc(text: str) -> bool:
    if text.startswith("\\\\"):
        return True
    # `//host/...` is also how Windows spells a share, but on Linux `//home/me` is just
    # /home/me; only the WSL hosts and the long-path prefix are read as shares.
    host = text[2:].replace("\\", "/").split("/", 1)[0].lower() if text.startswith("//") else ""
    return host in _WSL_HOSTS or host == "?"


def _from_unc(text: str) -> str:
    r"""\\wsl.localhost\<distro>\rest and \\wsl$\<distro>\rest name this distro's `/rest`."""
    body = text.replace("\\", "/").lstrip("/")
    host, _, rest = body.partition("/")
    if host == "?":  # \\?\C:\long\path: Win32 long-path prefix around a drive path
        if _DRIVE.match(rest):
            return rest
        raise PathInvalid(f"{text!r}: only \\\\?\\<drive>:\\... long paths are supported")
    if host.lower() not in _WSL_HOSTS:
        raise PathInvalid(
            f"{text!r} is a network share; mount it on the ComfyUI machine and give the "
            "mount point (and add it as an allowed root)"
        )
    distro, _, inner = rest.partition("/")
    if not distro:
        raise PathInvalid(f"{text!r} names no WSL distribution")
    ours = os.environ.get("WSL_DISTRO_NAME")
    if ours and distro.lower() != ours.lower():
        raise PathInvalid(
            f"{text!r} is inside the WSL distribution {distro!r}, but ComfyUI runs in "
            f"{ours!r}; copy the files into {ours!r} or give a path in it"
        )
    return "/" + inner


def _from_windows_drive(text: str, on_wsl: bool, mount_root: Path | None) -> str:
    match = _DRIVE.match(text)
    assert match  # the caller checked
    drive, rest = match.group(1).lower(), match.group(2).replace("\\", "/")
    if rest and not rest.startswith("/"):
        raise PathInvalid(
            f"{text!r} is relative to the current folder of drive {drive.upper()}:; "
            f"give the full path ({drive.upper()}:\\...)"
        )
    if not on_wsl:
        raise PathInvalid(
            f"{text!r} is a Windows path, but ComfyUI runs on Linux (not WSL), where drive "
            f"{drive.upper()}: does not exist; give the folder's Linux path"
        )
    base = mount_root if mount_root is not None else wsl_mount_root()
    return str(base / drive) + rest


def _check_limits(posix: str) -> None:
    if "\x00" in posix:
        raise PathInvalid("the path contains a NUL byte")
    try:
        encoded = os.fsencode(posix)
    except UnicodeEncodeError as exc:
        # os.fsdecode maps undecodable bytes to U+DC80..U+DCFF and those round-trip;
        # any other lone surrogate cannot name a file.
        raise PathInvalid("the path contains characters that cannot be a file name") from exc
    if len(encoded) > MAX_PATH_BYTES:
        raise PathInvalid(f"the path is {len(encoded)} bytes long; the limit is {MAX_PATH_BYTES}")
    for part in encoded.split(b"/"):
        if len(part) > MAX_NAME_BYTES:
            name = os.fsdecode(part)[:40]
            raise PathInvalid(
                f"the name {name!r}... is {len(part)} bytes long; the limit is {MAX_NAME_BYTES}"
            )


class AllowedRoots:
    """The folders vq may read and write; everything else is refused with PathNotAllowed."""

    def __init__(self, roots: Sequence[Path]):
        # Realpath'd once: a root that is itself a symlink is compared by its target,
        # the same way every checked path is.
        seen: dict[str, None] = {}
        for root in roots:
            seen.setdefault(os.path.realpath(os.fspath(root)), None)
        self.roots: list[Path] = [Path(r) for r in seen]

    def __repr__(self) -> str:
        return f"AllowedRoots({[str(r) for r in self.roots]})"

    def check(self, path: Path) -> Path:
        """Return the realpath of `path` if it lies inside a root, else raise PathNotAllowed."""
        text = os.fspath(path)
        if not os.path.isabs(text):
            raise PathInvalid(f"{text!r} is not an absolute path")
        _check_limits(text)
        real = os.fspath(_real(text, loops=False))
        if self._containing(real):
            return Path(real)
        raise PathNotAllowed(Path(text), self.roots)

    def resolve(self, raw: str) -> Path:
        """Normalize user text (see `normalize`) and check it against the roots."""
        given = absolute(raw)
        _real(given)  # a loop or an unreadable link is a 400 before it is a 403
        return self.check(Path(given))

    def root_of(self, path: Path) -> Path:
        """The outermost root containing `path`.

        Outermost, because when roots nest (the input dir inside a configured data folder)
        the inner one grants nothing extra and navigation may climb to the outer one.
        """
        real = os.path.realpath(os.fspath(path))
        found = self._containing(real)
        if not found:
            raise PathNotAllowed(Path(path), self.roots)
        return min(found, key=lambda r: len(r.parts))

    def _containing(self, real: str) -> list[Path]:
        return [r for r in self.roots if os.path.commonpath([os.fspath(r), real]) == os.fspath(r)]
