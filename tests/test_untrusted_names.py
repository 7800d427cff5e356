"""Layer names are untrusted text: a tiny atlas of a model whose layers are
called `<script>alert(1)</script>`, `../../etc`, `a"b'c`, `ünïcødé`, … must
write only inside its output folder, under safe and distinct names, with
every name escaped in the pages and kept exactly in atlas.json.

The model is tests/models/untrusted_names.py; the layers go in a TOML config
as a list, since the names hold commas and spaces."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from atlas.manifest_io import read_manifest

MODEL_FILE = Path(__file__).parent / "models" / "untrusted_names.py"
sys.path.insert(0, str(MODEL_FILE.parent))
try:
    from untrusted_names import LOOKALIKES, NAMES, TRAVERSAL  # noqa: E402
finally:
    sys.path.remove(str(MODEL_FILE.parent))

SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # the slug alphabet (see atlas/slugs.py)
FORBIDDEN_IN_NAMES = ("..", "/", "\\", "<", ">", '"', "'")
PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '" onmouseover="')


def atlas(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ATLAS_DEBUG"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ beside the model file
    return subprocess.run([sys.executable, "-m", "atlas", *argv], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env)


def toml_string(text: str) -> str:
    # A JSON string (escapes \" \\ and non-printables) is a valid TOML basic string.
    return json.dumps(text, ensure_ascii=False)


def write_config(folder: Path, factory: str, layers: list[str]) -> Path:
    config = folder / "atlas.toml"
    config.write_text(
        f"model = {toml_string(f'{folder / MODEL_FILE.name}:{factory}')}\n"
        f"layers = [{', '.join(toml_string(name) for name in layers)}]\n"
        'channels = "0-1"\nviews = ["positive"]\nsteps = 1\n', encoding="utf-8")
    return config


def tree(root: Path) -> set[Path]:
    return {Path(folder, name) for folder, dirs, files in os.walk(root) for name in dirs + files}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """(tmp root, site dir, manifest, files created outside the site) of a
    build of every hostile layer."""
    root = tmp_path_factory.mktemp("untrusted")
    shutil.copy(MODEL_FILE, root / MODEL_FILE.name)
    config = write_config(root, "build", NAMES)
    site = root / "deep" / "er" / "site"  # room for `../..` to land inside root
    before = tree(root)
    result = atlas("build", str(config), "--out", str(site), "--quiet", cwd=root)
    assert result.returncode == 0, result.stderr
    outside = {path for path in tree(root) - before if site not in path.parents
               and path not in (site, site.parent, site.parent.parent)}
    return root, site, read_manifest(site), outside


class _Page(HTMLParser):
    """Every tag, attribute and decoded bit of text of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            self.attributes.append((name, value or ""))
            self.text.append(value or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: Path) -> _Page:
    parser = _Page()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_every_file_stays_inside_the_output_dir(built) -> None:
    _, site, _, outside = built
    assert outside == set()
    real_site = Path(os.path.realpath(site))
    for path in tree(site):
        assert not path.is_symlink(), path
        assert real_site in Path(os.path.realpath(path)).parents, path


def test_file_and_folder_names_are_safe(built) -> None:
    _, site, _, _ = built
    for path in tree(site):
        name = path.name
        assert not any(bad in name for bad in FORBIDDEN_IN_NAMES), path
        assert SAFE_NAME.fullmatch(name), path


def test_distinct_layers_get_distinct_folders_and_pages(built) -> None:
    _, site, manifest, _ = built
    layers = manifest["layers"]
    assert len({layer["slug"] for layer in layers}) == len(NAMES)
    assert len({layer["page"] for layer in layers}) == len(NAMES)
    units = [unit for layer in layers for unit in layer["units"]]
    assert len(units) == 2 * len(NAMES)
    assert len({unit["page"] for unit in units}) == len(units)
    images = [unit["views"]["positive"]["images"][0] for unit in units]
    assert len(set(images)) == len(images)
    for rel in [layer["page"] for layer in layers] + [unit["page"] for unit in units] + images:
        assert (site / rel).is_file(), rel
    assert len([p for p in (site / "results").iterdir() if not p.name.startswith("_")]) == len(
        NAMES)


def test_atlas_json_keeps_the_names_exactly(built) -> None:
    _, site, manifest, _ = built
    assert [layer["name"] for layer in manifest["layers"]] == NAMES
    labels = [unit["label"] for layer in manifest["layers"] for unit in layer["units"]]
    assert labels == [f"{name}:{unit}" for name in NAMES for unit in (0, 1)]
    raw = (site / "atlas.json").read_bytes().decode("utf-8")
    assert json.loads(raw)["layers"][1]["name"] == TRAVERSAL
    for header in json.loads(raw)["layers"]:  # each layer's units: a slugged file under data/
        path = header["units_file"]
        assert path.startswith(f"data/{header['slug']}-") and (site / path).is_file()
        assert json.loads((site / path).read_text(encoding="utf-8"))["layer"] == header["name"]


def test_pages_escape_the_names_and_never_run_them(built) -> None:
    _, site, manifest, _ = built
    pages = sorted(site.rglob("*.html"))
    # index, summary (no joint objectives: no joint page); a layer and 2 unit pages each
    assert len(pages) == 2 + len(NAMES) * 3
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for payload in PAYLOADS:
            assert payload not in html, (page, payload)
        parsed = parse(page)
        # The only scripts are the site's own two files, never anything a name brought in.
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert parsed.tags.count("script") == len(scripts), page
        assert all(re.fullmatch(r'<script src="(\.\./)*static/(atlas|layer)\.js" defer>', tag)
                   for tag in scripts), (page, scripts)
        assert "img" not in parsed.tags or all(
            name != "src" or value != "x" for name, value in parsed.attributes), page
        for name, _ in parsed.attributes:
            assert re.fullmatch(r"[a-z][a-z0-9-]*", name), (page, name)
            assert not name.startswith("on"), (page, name)
    for layer in manifest["layers"]:
        # shown to the reader, escaped: the decoded text holds the exact name
        assert layer["name"] in "".join(parse(site / layer["page"]).text), layer["name"]


def test_every_local_link_resolves(built) -> None:
    _, site, _, _ = built
    real_site = site.resolve()
    checked = 0
    for page in sorted(site.rglob("*.html")):
        parsed = parse(page)
        for name, link in parsed.attributes:
            if name not in ("href", "src"):
                continue
            parts = urlparse(link)
            assert parts.scheme == "" and parts.netloc == "" and not link.startswith("/"), (
                page, link)
            if not parts.path:
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.is_file(), (page, link)
            assert real_site in target.parents, (page, link)
            checked += 1
    assert checked > 10 * len(NAMES)


def test_atlas_layers_lists_the_names(tmp_path: Path) -> None:
    shutil.copy(MODEL_FILE, tmp_path / MODEL_FILE.name)
    result = atlas("layers", "--model", f"{tmp_path / MODEL_FILE.name}:build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = [line.strip() for line in result.stdout.splitlines()]
    for name in NAMES:
        assert any(line.startswith(name + " ") for line in listed), name


def test_lookalike_names_get_distinct_folders(tmp_path: Path) -> None:
    shutil.copy(MODEL_FILE, tmp_path / MODEL_FILE.name)
    config = write_config(tmp_path, "build_lookalikes", LOOKALIKES)
    site = tmp_path / "site"
    result = atlas("build", str(config), "--out", str(site), "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = read_manifest(site)
    assert [layer["name"] for layer in manifest["layers"]] == LOOKALIKES
    folders = [p.name for p in (site / "results").iterdir() if not p.name.startswith("_")]
    assert len({name.lower() for name in folders}) == len(LOOKALIKES)
