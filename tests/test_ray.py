"""The Ray executor on a real local Ray cluster (2 CPUs, no dashboard), started
here: builds with 1 and 2 workers equal the
local build byte for byte, a killed worker costs one retried batch, a batch
that kills its worker twice is recorded failed, a killed driver resumes, and
a missing Ray or an unreachable cluster is one line and exit code 2."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from atlas.manifest_io import read_manifest
from atlas.cli import main
from atlas.config import make_config
from atlas.pipeline.build import build_atlas

# The head and every driver alike: token authentication is Ray's to test, and a
# token left in ~/.ray by an earlier local instance would turn it on for the head only.
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
# Small, but two layers, several batches per layer, the dataset pass and its examples.
SETTINGS = {"layers": ["conv2", "fc"], "channels": "0-3", "steps": 40,
            "views": ["positive", "negative", "diversity", "examples"], "batch_size": 6,
            "dataset_limit": 300}
FLAGS = ["--layers", "conv2,fc", "--channels", "0-3", "--steps", "40", "--views",
         "positive,negative,diversity,examples", "--batch-size", "6", "--dataset-limit", "300"]
STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # generated_at, in atlas.json and pages


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# A local Ray instance that lives as long as this process: other drivers join it by
# its address, and it goes when the process ends (`ray stop` would end every Ray
# instance on the machine, a user's own included).
HEAD = """
import sys, ray
ray.init(num_cpus=2, num_gpus=0, include_dashboard=False)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
"""


@pytest.fixture(scope="module")
def cluster() -> str:
    """A Ray head on this machine with 2 CPUs; its address."""
    head = subprocess.Popen([sys.executable, "-c", HEAD], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV,
                            text=True)
    address = head.stdout.readline().strip()
    assert address, "the Ray head did not start"
    yield address
    head.stdin.close()
    head.wait(timeout=60)


@pytest.fixture(scope="module")
def local_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("local") / "site"
    build_atlas(make_config({}, {**SETTINGS, "out": str(site)}), progress=False)
    return site


def site_files(site: Path) -> dict[str, bytes]:
    """Every file of a site, the build time taken out."""
    return {str(path.relative_to(site)): STAMP.sub(b"<generated>", path.read_bytes())
            for path in sorted(site.rglob("*")) if path.is_file()}


def assert_same_site(ray_site: Path, local_site: Path) -> None:
    ours, theirs = site_files(ray_site), site_files(local_site)
    assert sorted(ours) == sorted(theirs)
    different = [name for name in ours if ours[name] != theirs[name]]
    assert not different, f"{len(different)} files differ, e.g. {different[:5]}"


def atlas_build(site: Path, address: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "atlas", "build", *FLAGS, "--out", str(site), "--executor",
            "ray", "--ray-address", address, *extra]


class Watched:
    """A build in a subprocess whose stderr is read as it comes (progress bars
    end lines with carriage returns)."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=ENV)
        self.err = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while chunk := self.process.stderr.read1(4096):
            self.err += chunk

    def wait_for(self, pattern: bytes, after: int = 0, timeout: float = 120) -> re.Match:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = re.compile(pattern).search(self.err, after)
            if found:
                return found
            assert self.process.poll() is None, self.err.decode(errors="replace")
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.err.decode()}")

    def finish(self) -> tuple[int, str, str]:
        out = self.process.stdout.read().decode()
        self.process.wait(timeout=300)
        self._reader.join(timeout=10)
        return self.process.returncode, out, self.err.decode(errors="replace")


WORKER = rb"ray worker (\d+): pid (\d+) on "


@pytest.mark.parametrize("workers", [1, 2])
def test_ray_build_equals_the_local_build_byte_for_byte(cluster: str, local_site: Path,
                                                        tmp_path: Path, workers: int) -> None:
    site = tmp_path / "site"
    result = subprocess.run(atlas_build(site, cluster, "--ray-workers", str(workers), "--quiet"),
                            capture_output=True, text=True, timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr
    assert f"ray, {workers} worker" in result.stdout
    assert len(re.findall(WORKER.decode(), result.stderr)) == workers
    assert_same_site(site, local_site)


def test_concepts_and_class_pages_on_ray_equal_the_local_build(cluster: str,
                                                               tmp_path: Path) -> None:
    """The sampling pass, the concept layer's views and the class measure run on the
    workers (the directions handed to them after the fit); the site is the local one."""
    local = tmp_path / "local"
    build_atlas(make_config({}, {**SETTINGS, "concepts": {"conv2": "sae:4"},
                                 "out": str(local)}), progress=False)
    assert (local / "concepts" / "conv2" / "3.html").is_file()
    assert (local / "classes" / "0.html").is_file()
    site = tmp_path / "site"
    result = subprocess.run(atlas_build(site, cluster, "--ray-workers", "2", "--concepts",
                                        "conv2=sae:4", "--quiet"),
                            capture_output=True, text=True, timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr
    assert "concepts: conv2 sae:4 on 2,400 vectors" in result.stdout
    assert "classes: 10 classes of fc measured at conv2 over 300 images" in result.stdout
    assert_same_site(site, local)


def test_a_killed_worker_costs_one_batch_and_changes_nothing(cluster: str, local_site: Path,
                                                              tmp_path: Path) -> None:
    site = tmp_path / "site"
    build = Watched(atlas_build(site, cluster, "--ray-workers", "2"))
    pid = int(build.wait_for(WORKER).group(2))
    build.wait_for(rb"optimize:\s+\d+%")
    time.sleep(0.5)  # a batch or two into a few seconds of optimization
    os.kill(pid, signal.SIGKILL)
    code, out, err = build.finish()
    assert code == 0, err
    assert re.search(rf"ray worker \d \(pid {pid} on .*\) died during task \d+; retrying it on "
                     "another worker", err), err
    # (a fresh worker takes the dead one's place, but the build may finish on the other
    # before it is up: the next test waits for one)
    assert "0 unchanged" in out
    assert_same_site(site, local_site)


def test_a_batch_that_kills_its_worker_twice_is_recorded_failed(cluster: str,
                                                               tmp_path: Path) -> None:
    site = tmp_path / "site"
    build = Watched(atlas_build(site, cluster, "--ray-workers", "1", "--views", "positive",
                                "--layers", "fc", "--channels", "0", "--steps", "2000"))
    first = build.wait_for(WORKER)
    build.wait_for(rb"optimize:\s+\d+%")
    os.kill(int(first.group(2)), signal.SIGKILL)
    second = build.wait_for(WORKER, after=first.end())
    time.sleep(1.0)
    os.kill(int(second.group(2)), signal.SIGKILL)
    code, out, err = build.finish()
    assert code == 0, err
    assert "giving it up" in err
    assert "1 view(s) failed" in out
    record = json.loads((site / "results" / "fc" / "0" / "positive.json").read_text())
    assert record["status"] == "failed"
    assert "died 2 times" in record["reason"]
    manifest = read_manifest(site)
    unit = manifest["layers"][0]["units"][0]
    assert "died 2 times" in unit["failed_views"]["positive"]


def test_a_killed_driver_resumes_where_it_stopped(cluster: str, local_site: Path,
                                                 tmp_path: Path) -> None:
    site = tmp_path / "site"
    build = Watched(atlas_build(site, cluster, "--ray-workers", "2"))
    deadline = time.time() + 180
    while not list((site / "results" / "conv2").rglob("positive.json")):
        assert time.time() < deadline and build.process.poll() is None, build.err.decode()
        time.sleep(0.1)
    build.process.send_signal(signal.SIGKILL)
    build.finish()
    done = {path: path.stat().st_mtime_ns for path in (site / "results").rglob("*.json")
            if "_dataset" not in path.parts and "_build" not in path.parts}
    assert done
    again = subprocess.run(atlas_build(site, cluster, "--quiet"), capture_output=True,
                           text=True, timeout=300, env=ENV)
    assert again.returncode == 0, again.stderr
    for path, mtime in done.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was computed again"
    assert_same_site(site, local_site)


def test_without_ray_the_executor_says_how_to_install_it(monkeypatch, capsys,
                                                        tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    code = main(["build", "--executor", "ray", "--out", str(tmp_path / "site")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "pip install 'atlas[ray]'" in err


def test_an_unreachable_cluster_is_one_line(capsys, tmp_path: Path) -> None:
    code = main(["build", "--executor", "ray", "--ray-address", f"127.0.0.1:{free_port()}",
                 "--out", str(tmp_path / "site")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "cannot reach the Ray cluster at 127.0.0.1:" in err
    assert not (tmp_path / "site").exists()


def test_a_ray_address_needs_the_ray_executor(capsys) -> None:
    code = main(["build", "--ray-address", "127.0.0.1:6379"])
    assert code == 2
    assert "add --executor ray" in capsys.readouterr().err


def test_plan_on_the_cluster_counts_what_a_local_plan_counts(cluster: str,
                                                             tmp_path: Path) -> None:
    from atlas.pipeline.cost.forecast import plan_build

    local = plan_build(make_config({}, {**SETTINGS, "out": str(tmp_path / "local")}),
                       progress=False)
    result = subprocess.run(
        [sys.executable, "-m", "atlas", "plan", *FLAGS, "--out", str(tmp_path / "site"),
         "--executor", "ray", "--ray-address", cluster, "--ray-workers", "2", "--quiet"],
        capture_output=True, text=True, timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "on ray, 2 workers (cpu, 1 thread each)" in out
    assert f"jobs (unit-views):  {local.jobs} (0 already stored)" in out
    assert f"images to optimize: {local.images} in {local.batches} batches" in out
    assert f"dataset images:     {local.dataset_images}" in out
    assert "   2 workers:" in out
    assert not (tmp_path / "site").exists()


IN_MEMORY = """
import pathlib, sys, torch, atlas
from torch import nn

class Net(nn.Module):  # defined in __main__, as in a notebook: sent to the workers by value
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 12, 3, padding=1)
    def forward(self, x):
        return self.conv2(torch.relu(self.conv1(x)))

class Items(torch.utils.data.Dataset):
    def __len__(self):
        return 24
    def __getitem__(self, i):
        return torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(i)), i % 2

torch.manual_seed(0)
net, root = Net(), pathlib.Path(sys.argv[2])
settings = dict(layers=["conv2"], dataset=Items(), steps=3, channels="0-3", image_size=20,
                views=["positive", "negative", "examples"], progress=False)
on_ray = atlas.build(net, out=root / "ray", executor="ray", ray_address=sys.argv[1],
                     ray_workers=2, **settings)
atlas.build(net, out=root / "local", **settings)
print(on_ray.report.jobs_computed)
"""


def test_a_module_and_dataset_in_memory_build_on_ray_as_locally(cluster: str,
                                                                tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", IN_MEMORY, cluster, str(tmp_path)],
                          capture_output=True, text=True, env=ENV, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "8"
    ray_results, local_results = (site_files(tmp_path / name / "results")
                                  for name in ("ray", "local"))
    assert sorted(ray_results) == sorted(local_results) and len(ray_results) > 20
    assert [name for name in ray_results if ray_results[name] != local_results[name]] == []
