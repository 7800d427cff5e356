"""Faults lose nothing: builds killed at random points resume without redoing
finished work, Ctrl-C stops after a batch, a failed render keeps the old site,
one build at a time per directory, NaN views are retried then recorded."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from atlas.fsio import TMP_SUFFIX, is_partial_write
from atlas.manifest_io import read_manifest
from atlas.cli import main
from atlas.config import default_lr, make_config
from atlas.pipeline.control import publish
from atlas.pipeline.build import build_atlas
from atlas.pipeline.control.lock import BuildLock
from atlas.pipeline.optimize.schedule import RETRY_LR_FACTOR

FAULTY = Path(__file__).parent / "models" / "faulty.py"
# ~5-10 s of work on 2 cores: enough for kills to land mid-build
KILL_ARGS = ["--steps", "48", "--channels", "0-5", "--quiet"]


def atlas_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "atlas", *args]


def stored_files(site: Path) -> list[Path]:
    return [p for p in (site / "results").rglob("*") if p.is_file()]


def assert_every_stored_file_decodes(site: Path) -> None:
    for path in stored_files(site):
        if is_partial_write(path.name):
            continue  # a killed write's temporary; the next build deletes it
        if path.suffix == ".png":
            with Image.open(path) as image:
                image.load()
        elif path.suffix == ".json":
            json.loads(path.read_text())


def dataset_records(site: Path) -> dict[Path, int]:
    """Finished dataset-pass results, examples records and the class pages' record ->
    modification time."""
    results = site / "results"
    found = [*results.glob("_dataset/[!.]*/scan.json"), *results.rglob("examples.json"),
             *results.glob("_classes/*.json")]
    return {record: record.stat().st_mtime_ns for record in found}


def complete_views(site: Path) -> dict[Path, int]:
    """Record files of finished optimized views -> modification time. A positive
    view is finished only with its evolution record (they come from one run)."""
    finished = {}
    for record in (site / "results").rglob("*.json"):
        # (connections: _build/; the class pages' record: a dataset result, not a job)
        if {"_build", "_dataset", "_classes"} & set(record.parts):
            continue
        if record.stem == "examples":
            continue
        if record.stem == "positive" and not (record.parent / "evolution.json").is_file():
            continue
        if record.stem in ("evolution", "kernel", "compare"):  # compare: not a job
            continue
        finished[record] = record.stat().st_mtime_ns
    return finished


def test_sigkill_at_random_points_then_resume(tmp_path: Path) -> None:
    site = tmp_path / "site"
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        process = subprocess.Popen(atlas_cli("build", "--out", str(site), *KILL_ARGS),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 6.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        assert_every_stored_file_decodes(site)
    assert kills >= 2, "the build finished too fast for the kills to land"
    before = complete_views(site)
    data_before = dataset_records(site)
    assert data_before, "the dataset pass ran before the first kill"
    result = subprocess.run(atlas_cli("build", "--out", str(site), *KILL_ARGS),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if "views computed" in l)
    computed, total = (int(x) for x in line.split(" units, ")[1].split(" views")[0].split(" of "))
    assert computed == total - len(before), line
    for record, mtime in {**before, **data_before}.items():
        assert record.stat().st_mtime_ns == mtime, f"{record} was recomputed"
    assert_every_stored_file_decodes(site)
    assert not list(site.rglob(f"*{TMP_SUFFIX}"))
    assert not [p for p in site.iterdir() if p.name.startswith(publish.STAGING_PREFIX)]
    assert (site / "index.html").is_file()


def test_ctrl_c_stops_after_the_batch_and_says_how_to_resume(tmp_path: Path) -> None:
    site = tmp_path / "site"
    process = subprocess.Popen(atlas_cli("build", "--out", str(site), "--steps", "64",
                                         "--quiet"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list((site / "results").rglob("positive.json")) and time.time() < deadline:
        time.sleep(0.2)  # the first batch is stored
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=180)
    assert process.returncode == 130, err
    assert "stopping after the current batch" in err
    assert "run the same command to resume" in err
    assert "Traceback" not in err
    assert_every_stored_file_decodes(site)
    finished = complete_views(site)
    assert finished
    again = subprocess.run(atlas_cli("build", "--out", str(site), "--steps", "64", "--quiet"),
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert " 0 unchanged" not in again.stdout


def test_a_failed_render_leaves_the_previous_site_intact(tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "site"
    config = {"steps": 4, "channels": "0", "out": str(site), "views": ["positive"]}
    build_atlas(make_config({}, config), progress=False)
    before = {p: p.read_bytes() for p in site.rglob("*.html")}
    manifest_before = read_manifest(site)

    def broken_render(manifest: dict, staging: Path, progress: bool = True,
                      units_of=None) -> list:
        (staging / "index.html").write_text("half a page")
        raise RuntimeError("disk full while rendering")

    monkeypatch.setattr(publish, "render_site", broken_render)
    with pytest.raises(RuntimeError, match="disk full"):
        build_atlas(make_config({}, {**config, "steps": 5}), progress=False)
    assert {p: p.read_bytes() for p in site.rglob("*.html")} == before
    assert not [p for p in site.iterdir() if p.name.startswith(publish.STAGING_PREFIX)]
    assert read_manifest(site) == manifest_before  # the old index still names its units


def test_a_second_build_into_the_same_directory_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with BuildLock(site):
        result = subprocess.run(atlas_cli("build", "--out", str(site), "--steps", "1",
                                          "--channels", "0", "--quiet"),
                                capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "another atlas build is writing to" in lines[0]
    assert f"pid {os.getpid()}" in lines[0]


def test_a_stale_lock_from_a_killed_build_is_taken_over(tmp_path: Path) -> None:
    site = tmp_path / "site"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from atlas.pipeline.control.lock import BuildLock\n"
        f"lock = BuildLock(Path({str(site)!r})).__enter__(); print('held', flush=True); "
        "time.sleep(600)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    result = subprocess.run(atlas_cli("build", "--out", str(site), "--steps", "1",
                                      "--channels", "0", "--views", "positive"),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"took over the lock of a build that is gone (pid {holder.pid}" in result.stdout


def test_nan_views_are_retried_then_recorded_as_failed(tmp_path: Path, capsys) -> None:
    site = tmp_path / "site"
    args = ["build", "--model", f"{FAULTY}:build", "--layers", "odd", "--steps", "3",
            "--views", "positive,negative", "--out", str(site), "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 view(s) failed" in out
    manifest = read_manifest(site)
    units = {unit["index"]: unit for unit in manifest["layers"][0]["units"]}
    assert units[0]["status"] == "failed"
    assert set(units[0]["failed_views"]) == {"positive", "negative"}
    retry = default_lr("pixel", 28) * RETRY_LR_FACTOR  # the small model's default
    assert f"retried with learning rate {retry:g}" in units[0]["failed_views"]["positive"]
    assert units[2]["status"] == "ok" and not units[2]["dead"]
    assert "positive" in units[2]["views"]
    # the same build again does not retry what is recorded; --strict makes it an error
    assert main([*args, "--strict"]) == 1
    assert "0 of 6 views computed" in capsys.readouterr().out


def test_dead_units_are_flagged(tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert main(["build", "--model", f"{FAULTY}:build", "--layers", "odd", "--channels", "1,2",
                 "--steps", "3", "--views", "positive,negative", "--out", str(site),
                 "--quiet"]) == 0
    manifest = read_manifest(site)
    dead = {unit["index"]: unit["dead"] for unit in manifest["layers"][0]["units"]}
    assert dead == {1: True, 2: False}
