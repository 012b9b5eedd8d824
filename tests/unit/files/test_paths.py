"""Path normalization and allowed roots: a table of pasted inputs and what each becomes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vq_extension.files import paths
from vq_extension.files.paths import (
    AllowedRoots,
    PathInvalid,
    PathNotAllowed,
    normalize,
)

BOTH = "same on WSL and plain Linux"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.delenv("WSL_DISTRO_NAME", raising=False)
    base = Path(os.path.realpath(tmp_path))
    t = {
        name: base / name
        for name in ("input", "output", "extra", "outside", "input-evil", "mnt", "home")
    }
    t["users"] = t["mnt"] / "c" / "Users" / "me"
    for p in t.values():
        p.mkdir(parents=True, exist_ok=True)
    (t["input"] / "sub").mkdir()
    (t["input"] / "link_out").symlink_to(t["outside"])
    (t["input"] / "link_extra").symlink_to(t["extra"])
    (t["input"] / "loop").symlink_to(t["input"] / "loop")
    (t["outside"] / "secret.txt").write_text("x")
    return t


def roots_of(t: dict[str, Path]) -> AllowedRoots:
    return AllowedRoots([t["input"], t["output"], t["extra"], t["users"], t["home"]])


def win(p: Path) -> str:
    return str(p).replace("/", "\\")


# (id, raw text, expected on WSL, expected on plain Linux). An expected str is a path
# template; an exception class means that refusal. Templates: {input} etc. are the tmp
# folders, {input_win} the same with backslashes.
CASES = [
    ("plain", "{input}/a.png", "{input}/a.png", BOTH),
    ("root itself", "{input}", "{input}", BOTH),
    ("trailing newline", "{input}/a.png\n", "{input}/a.png", BOTH),
    ("crlf and spaces", "  {input}/a.png \r\n", "{input}/a.png", BOTH),
    ("wrapped paste", "{input}/long\nname.png", "{input}/longname.png", BOTH),
    ("double quotes", '"{input}/a b.png"', "{input}/a b.png", BOTH),
    ("single quotes", "'{input}/a b.png'", "{input}/a b.png", BOTH),
    ("quotes and whitespace", '  "{input}/x" \n', "{input}/x", BOTH),
    ("smart quotes", "\u201c{input}/x\u201d", "{input}/x", BOTH),
    ("lone quote is literal", "{input}/it's.png", "{input}/it's.png", BOTH),
    ("double slashes", "//{input}//a.png", "{input}/a.png", BOTH),
    ("dot segments inside", "{input}/sub/../a.png", "{input}/a.png", BOTH),
    ("tilde", "~/pics", "{home}/pics", BOTH),
    ("tilde alone", "~", "{home}", BOTH),
    ("tilde other user", "~bob/pics", PathInvalid, BOTH),
    ("relative", "pics/a.png", PathInvalid, BOTH),
    ("empty", "", PathInvalid, BOTH),
    ("only whitespace", "  \r\n\t", PathInvalid, BOTH),
    ("only quotes", '""', PathInvalid, BOTH),
    ("traversal out", "{input}/../outside/secret.txt", PathNotAllowed, BOTH),
    ("deep traversal", "{input}/../../../../../etc/passwd", PathNotAllowed, BOTH),
    ("string-prefix sibling", "{input}-evil/x.png", PathNotAllowed, BOTH),
    ("symlink out of root", "{input}/link_out/secret.txt", PathNotAllowed, BOTH),
    ("symlink into other root", "{input}/link_extra/a.png", "{extra}/a.png", BOTH),
    ("symlink then dotdot", "{input}/link_extra/../outside", PathNotAllowed, BOTH),
    ("symlink loop", "{input}/loop/x", PathInvalid, BOTH),
    ("nul byte", "{input}/a\x00.png", PathInvalid, BOTH),
    ("percent is literal in paths", "{input}/a%2Fb.png", "{input}/a%2Fb.png", BOTH),
    ("backslash is literal in posix paths", "{input}/a\\b.png", "{input}/a\\b.png", BOTH),
    ("file uri", "file://{input}/a%20b.png", "{input}/a b.png", BOTH),
    ("file uri localhost", "file://localhost{input}/x.png", "{input}/x.png", BOTH),
    ("file uri single slash", "file:{input}/x.png", "{input}/x.png", BOTH),
    ("file uri upper scheme", "FILE://{input}/x.png", "{input}/x.png", BOTH),
    ("file uri encoded slash", "file://{input}/sub%2Fa.png", "{input}/sub/a.png", BOTH),
    ("file uri encoded dotdot", "file://{input}/%2e%2e/outside", PathNotAllowed, BOTH),
    ("file uri encoded nul", "file://{input}/a%00.png", PathInvalid, BOTH),
    ("file uri non-utf8", "file://{input}/caf%E9.png", "{input}/caf\udce9.png", BOTH),
    ("file uri query", "file://{input}/a.png?x=1", PathInvalid, BOTH),
    ("file uri fragment", "file://{input}/a.png#1", PathInvalid, BOTH),
    ("file uri other host", "file://nas/share/a.png", PathInvalid, BOTH),
    ("other scheme", "http://example.com/a.png", PathInvalid, BOTH),
    ("smb scheme", "smb://nas/share", PathInvalid, BOTH),
    ("drive backslashes", "C:\\Users\\me\\pics", "{users}/pics", PathInvalid),
    ("drive forward slashes", "C:/Users/me/pics", "{users}/pics", PathInvalid),
    ("drive lower case", "c:\\Users\\me", "{users}", PathInvalid),
    ("quoted drive trailing sep", '"C:\\Users\\me\\my pics\\"', "{users}/my pics", PathInvalid),
    ("drive outside roots", "D:\\data", PathNotAllowed, PathInvalid),
    ("drive traversal", "C:\\Users\\me\\..\\..\\Windows", PathNotAllowed, PathInvalid),
    ("drive relative", "C:pics", PathInvalid, PathInvalid),
    ("file uri drive", "file:///C:/Users/me/a%20b.png", "{users}/a b.png", PathInvalid),
    ("long path prefix", "\\\\?\\C:\\Users\\me\\x", "{users}/x", PathInvalid),
    ("wsl.localhost", "\\\\wsl.localhost\\Ubuntu{input_win}\\a.png", "{input}/a.png", BOTH),
    ("wsl$", "\\\\wsl$\\Ubuntu{input_win}\\a.png", "{input}/a.png", BOTH),
    ("wsl.localhost forward", "//wsl.localhost/Ubuntu{input}/a.png", "{input}/a.png", BOTH),
    ("wsl host any case", "\\\\WSL.LOCALHOST\\Ubuntu{input_win}", "{input}", BOTH),
    ("wsl distro root", "\\\\wsl.localhost\\Ubuntu", PathNotAllowed, BOTH),
    ("wsl traversal", "\\\\wsl$\\Ubuntu{input_win}\\..\\outside", PathNotAllowed, BOTH),
    ("wsl no distro", "\\\\wsl$\\", PathInvalid, BOTH),
    ("network share", "\\\\nas\\share\\a.png", PathInvalid, BOTH),
    ("too long path", "/" + "a/" * 2100, PathInvalid, BOTH),
    ("too long name", "{input}/" + "x" * 256, PathInvalid, BOTH),
    ("longest name", "{input}/" + "x" * 255, "{input}/" + "x" * 255, BOTH),
    ("long unicode name", "{input}/" + "é" * 128, PathInvalid, BOTH),  # 256 bytes
    ("non-utf8 name", "{input}/" + os.fsdecode(b"caf\xe9.png"), "{input}/caf\udce9.png", BOTH),
    ("stray surrogate", "{input}/\ud800.png", PathInvalid, BOTH),
    ("unicode name", "{input}/Ünïcødé 画像.png", "{input}/Ünïcødé 画像.png", BOTH),
]


@pytest.mark.parametrize("wsl", [True, False], ids=["wsl", "linux"])
@pytest.mark.parametrize(
    ("raw", "on_wsl", "on_linux"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_path_table(tree, wsl, raw, on_wsl, on_linux):
    expected = on_wsl if wsl or on_linux == BOTH else on_linux
    fill = {k: str(v) for k, v in tree.items()} | {"input_win": win(tree["input"])}
    text = raw.format(**fill)
    roots = roots_of(tree)

    def run() -> Path:
        return roots.check(normalize(text, is_wsl=wsl, home=tree["home"], mount_root=tree["mnt"]))

    if isinstance(expected, type):
        with pytest.raises(expected) as info:
            run()
        assert str(info.value), "every refusal explains itself"
    else:
        assert run() == Path(expected.format(**fill))


def test_cases_cover_enough_inputs():
    assert len(CASES) >= 30


def test_windows_path_on_plain_linux_says_why(tree):
    with pytest.raises(PathInvalid, match="Windows path.*not WSL"):
        normalize("C:\\Users\\me", is_wsl=False)


def test_drive_maps_under_default_mount_root():
    assert normalize("E:\\Videos\\clip.mp4", is_wsl=True) == (
        paths.wsl_mount_root() / "e" / "Videos" / "clip.mp4"
    ).resolve()


def test_wsl_share_of_another_distro_is_refused(monkeypatch):
    monkeypatch.setenv("WSL_DISTRO_NAME", "Ubuntu-22.04")
    assert normalize("\\\\wsl$\\ubuntu-22.04\\tmp", is_wsl=True) == Path("/tmp").resolve()
    with pytest.raises(PathInvalid, match="Debian"):
        normalize("\\\\wsl.localhost\\Debian\\home\\me", is_wsl=True)


def test_is_wsl_follows_distro_env(monkeypatch):
    monkeypatch.setenv("WSL_DISTRO_NAME", "Ubuntu")
    assert paths.is_wsl() is True


def test_not_allowed_message_names_roots_and_how_to_add(tree):
    roots = roots_of(tree)
    with pytest.raises(PathNotAllowed) as info:
        roots.resolve(str(tree["outside"]))
    message = str(info.value)
    assert str(tree["input"]) in message and str(tree["extra"]) in message
    assert "VQ_ALLOWED_ROOTS" in message and "allowed_roots:" in message and "vq.yaml" in message
    assert info.value.path == tree["outside"]
    assert info.value.roots == roots.roots


def test_no_roots_refuses_everything(tree):
    with pytest.raises(PathNotAllowed, match="none configured"):
        AllowedRoots([]).check(tree["input"])


def test_root_given_through_symlink_is_realpathed(tree, tmp_path):
    alias = tmp_path / "alias"
    alias.symlink_to(tree["input"])
    roots = AllowedRoots([alias])
    assert roots.roots == [tree["input"]]
    assert roots.check(alias / "a.png") == tree["input"] / "a.png"
    assert roots.check(tree["input"] / "a.png") == tree["input"] / "a.png"


def test_check_refuses_relative_and_nul(tree):
    roots = roots_of(tree)
    with pytest.raises(PathInvalid):
        roots.check(Path("input/a.png"))
    with pytest.raises(PathInvalid):
        roots.check(Path(str(tree["input"]) + "/a\x00b"))


def test_root_of_is_outermost_root(tree):
    inner = tree["extra"] / "comfy" / "input"
    inner.mkdir(parents=True)
    roots = AllowedRoots([inner, tree["extra"]])
    assert roots.root_of(inner / "x.png") == tree["extra"]
    assert AllowedRoots([inner]).root_of(inner / "x.png") == inner
    with pytest.raises(PathNotAllowed):
        roots.root_of(tree["outside"])


def test_duplicate_roots_collapse(tree):
    assert AllowedRoots([tree["input"], tree["input"] / "sub" / ".."]).roots == [tree["input"]]


def test_non_text_is_invalid():
    with pytest.raises(PathInvalid):
        normalize(b"/tmp")  # type: ignore[arg-type]
