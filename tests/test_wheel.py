"""atlas as a user (or a Ray worker) installs it: a wheel built from the repo,
installed into a fresh virtual environment, runs without the checkout.

The new environment reaches the already installed dependencies through a
path file (`--no-deps`: nothing is downloaded, the test stays fast), but not
the editable atlas of the development environment: path files inside an added
directory are not read, so `import atlas` can only find the wheel's copy.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh environment holding only the wheel's atlas."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", str(REPO), "-w", str(root / "dist")],
                   check=True, capture_output=True, cwd=root)
    (wheel,) = (root / "dist").glob("neuron_atlas-*.whl")
    env = root / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True)
    Path(site.stdout.strip(), "dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True)
    return env / "bin"


def _run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "atlas"), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_the_wheel_holds_every_package_and_page(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", str(REPO), "-w", str(tmp_path)],
                   check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("neuron_atlas-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {f"atlas/{p.relative_to(REPO / 'atlas').as_posix()}"
               for p in (REPO / "atlas").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    templates = {f"atlas/templates/{p.relative_to(REPO / 'templates').as_posix()}"
                 for p in (REPO / "templates").rglob("*")
                 if p.is_file() and p.suffix in (".html", ".css", ".js")}
    assert templates <= names, sorted(templates - names)
    assert "atlas/models/weights/colored_digits.pt" in names
    assert "atlas/py.typed" in names  # the API's types reach users' type checkers


def test_the_installed_atlas_runs_without_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run([str(installed / "python"), "-c", "import atlas; print(atlas.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True)
    assert str(installed.parent) in where.stdout and str(REPO) not in where.stdout
    assert _run(installed, "--help", cwd=tmp_path).returncode == 0
    bench = _run(installed, "bench", "--help", cwd=tmp_path)
    assert bench.returncode == 0 and "--render-units" in bench.stdout
    build = _run(installed, "build", "--out", str(tmp_path / "site"), "--steps", "2",
                 "--layers", "conv1,fc", "--channels", "0-1", "--views", "positive,negative",
                 "--dataset", "none", "--quiet", cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    for page in ("index.html", "layers/conv1.html", "units/fc/1.html", "static/atlas.js",
                 "static/unit.css", "search-index.js"):
        assert (tmp_path / "site" / page).is_file(), page


API = """
import torch, atlas
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
    def forward(self, x):
        return self.conv2(torch.relu(self.conv1(x)))

images = [(torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(i)), i % 2)
          for i in range(12)]
torch.manual_seed(0)
a = atlas.build(Net(), layers=["conv2"], dataset=images, out="s", steps=2, channels="0-1",
                image_size=16, views=["positive", "examples"], progress=False)
print(atlas.__file__)
print(a.unit("conv2", 1)._repr_html_().count("data:image"), a.page(a.unit("conv2", 1)))
"""


def test_the_installed_wheel_builds_from_python(installed: Path, tmp_path: Path) -> None:
    from importlib.metadata import version

    done = subprocess.run([str(installed / "python"), "-c", API], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    where, shown = done.stdout.splitlines()[-2:]
    assert str(installed.parent) in where and str(REPO) not in where
    images, page = shown.split()
    assert int(images) >= 2 and page.endswith("s/units/conv2/1.html")
    assert (tmp_path / "s" / "units" / "conv2" / "1.html").is_file()
    listed = subprocess.run([str(installed / "python"), "-m", "pip", "list"],
                            capture_output=True, text=True)
    assert "neuron-atlas" in listed.stdout or version("neuron-atlas")
