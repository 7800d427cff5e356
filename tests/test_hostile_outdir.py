"""atlas owns only what it wrote: a folder of someone else's files is refused (or, with
--force, shared without touching them), no symbolic link inside the site is followed,
clean-up deletes only atlas's own names, the page swap never leaves a site without its
pages, and a full disk is one line. Each case runs the real command in this process."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from atlas import cli, fsio
from atlas.cli import main
from atlas.manifest_io import read_manifest
from atlas.pipeline.control import publish
from atlas.pipeline.control.ownership import SITE_MARKER

MODEL = str(Path(__file__).parent / "models" / "two_heads.py") + ":build"
TINY = ("--model", MODEL, "--steps", "1", "--views", "positive", "--dataset", "none",
        "--quiet")
USER_FILES = {"data/users.json": '{"user": 1}', "units/notes.txt": "notes",
              "layers/x.txt": "x", "static/mine.css": "b{}", "notes/.draft.tmp": "draft",
              ".staging-mine/keep.txt": "mine", "results/mine.txt": "mine"}


def build(out: Path, *argv: str) -> int:
    return main(["build", *TINY, "--layers", "features.0", "--out", str(out), *argv])


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("atlas: error: "), err
    return err[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in folder.rglob("*") if path.is_file() and not path.is_symlink()}


def plant(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


def test_a_folder_of_other_files_is_refused_and_left_as_it_was(tmp_path, capsys) -> None:
    out = tmp_path / "proj"
    plant(out, USER_FILES)
    before = snapshot(out)
    assert build(out) == 2
    line = one_line(capsys)
    assert "holds files atlas did not make" in line and "--force" in line
    assert snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == sorted(
        {rel.split("/")[0] for rel in USER_FILES})


def test_force_builds_beside_the_users_files_and_never_deletes_them(tmp_path, capsys) -> None:
    out = tmp_path / "proj"
    plant(out, USER_FILES)
    assert build(out, "--force", "--channels", "0-1") == 0
    assert (out / "units" / "features.0" / "1.html").is_file()
    assert build(out, "--channels", "0") == 0  # now an atlas site: no --force needed
    assert not (out / "units" / "features.0" / "1.html").exists()  # atlas's stale page
    assert (out / "units" / "features.0" / "0.html").is_file()
    assert {rel: (out / rel).read_text() for rel in USER_FILES} == USER_FILES
    assert main(["render", "--out", str(out), "--quiet"]) == 0
    assert {rel: (out / rel).read_text() for rel in USER_FILES} == USER_FILES


def test_force_never_writes_over_a_users_page(tmp_path, capsys) -> None:
    out = tmp_path / "proj"
    plant(out, {"index.html": "my own page"})
    assert build(out, "--force") == 2
    assert "index.html is already there and atlas did not make it" in one_line(capsys)
    assert snapshot(out) == {"index.html": b"my own page"}


def test_an_empty_out_is_refused(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["build", *TINY, "--out", ""]) == 2
    assert "out is empty" in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def site(tmp_path: Path) -> Path:
    out = tmp_path / "site"
    assert build(out) == 0
    return out


@pytest.mark.parametrize("link", [".atlas.lock", "data", "results/features.0", "units",
                                  SITE_MARKER])
@pytest.mark.parametrize("command", ["build", "render"])
def test_no_link_inside_the_site_is_followed(site, tmp_path, capsys, link, command) -> None:
    victim = tmp_path / "victim"
    plant(victim, {"a.json": "{}", "b.txt": "secret"})
    target = site / link
    if target.is_dir():
        os.rename(target, tmp_path / "moved")
    else:
        target.unlink(missing_ok=True)
    target.symlink_to(victim if link in ("data", "units", "results/features.0")
                      else victim / "b.txt")
    capsys.readouterr()
    code = (build(site) if command == "build"
            else main(["render", "--out", str(site), "--quiet"]))
    assert code == 2
    assert f"{target} is a symbolic link" in one_line(capsys)
    assert snapshot(victim) == {"a.json": b"{}", "b.txt": b"secret"}


def test_leftovers_removed_are_atlas_names_in_atlas_folders_only(site) -> None:
    partial = site / "results" / "features.0" / f".positive.json.abcd1234{fsio.TMP_SUFFIX}"
    staging = site / f"{publish.STAGING_PREFIX}dead1234"
    partial.write_text("half")
    staging.mkdir()
    mine = {"results/.notes.tmp": "a", "notes/.x.abcd1234.atlas-tmp": "b",
            ".staging-mine/k.txt": "c"}
    plant(site, mine)
    assert build(site) == 0
    assert not partial.exists() and not staging.exists()
    assert {rel: (site / rel).read_text() for rel in mine} == mine


def test_a_page_swap_cut_short_leaves_every_page_in_place(site, monkeypatch, capsys) -> None:
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    moves = []
    real_replace = os.replace

    def replace_then_die(source, target):
        if publish.STAGING_PREFIX in str(source):  # a page moving into place
            if len(moves) == 3:
                raise KeyboardInterrupt  # killed between two renames
            moves.append(target)
        real_replace(source, target)

    monkeypatch.setattr(publish.os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        publish.publish_site(read_manifest(site), site, progress=False)
    assert len(moves) == 3
    assert {p.relative_to(site).as_posix() for p in site.rglob("*.html")} == pages
    monkeypatch.undo()
    assert main(["render", "--out", str(site), "--quiet"]) == 0
    assert not [p for p in site.iterdir() if p.name.startswith(publish.STAGING_PREFIX)]


def test_a_full_disk_is_one_line_and_the_build_resumes(tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / "site"

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsio.os, "fsync", no_space)
    assert build(out) == 2
    line = one_line(capsys)
    assert f"the disk holding {out}" in line and "is full" in line
    assert "run the same command" in line
    assert not list(out.rglob(f"*{fsio.TMP_SUFFIX}"))
    monkeypatch.undo()
    assert build(out) == 0
    assert (out / "index.html").is_file()


def test_a_marker_atlas_did_not_write_is_refused(tmp_path, capsys) -> None:
    out = tmp_path / "proj"
    plant(out, {SITE_MARKER: "not json", "mine.txt": "m"})
    assert build(out) == 2
    assert "is not a marker atlas wrote" in one_line(capsys)
    assert snapshot(out) == {SITE_MARKER: b"not json", "mine.txt": b"m"}


def test_a_site_built_before_the_marker_is_still_atlas_s(site, capsys) -> None:
    (site / SITE_MARKER).unlink()
    assert build(site, "--channels", "0") == 0
    assert (site / SITE_MARKER).is_file()


def test_a_full_disk_under_another_writer_is_one_line_too(tmp_path, monkeypatch,
                                                          capsys) -> None:
    """numpy and torch write some caches themselves: the command still says one line."""
    def full(args) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.npy"))

    monkeypatch.setitem(cli.COMMANDS, "render", full)
    assert main(["render", "--out", str(tmp_path)]) == 2
    assert f"the disk holding {tmp_path} is full" in one_line(capsys)
