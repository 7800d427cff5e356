"""A site is data, not a key to the disk (issue 32): every path that atlas.json or a
stored record names is looked up inside the site, and a file that is broken or edited
by hand gives one line, never a traceback and never a file from outside the site.

One tiny build of the default model (two units of conv1, the positive view); each
test edits a copy of it, beside a secret file that must never be read."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

import atlas
from atlas.cli import main
from atlas.config import make_config
from atlas.pipeline.build import build_atlas
from atlas.site_paths import site_file, site_path_parts

SETTINGS = {"layers": ["conv1"], "channels": "0-1", "steps": 2, "views": ["positive"],
            "dataset": "none"}
SECRET = b"TOP SECRET, NOT AN IMAGE"
RECORD = "results/conv1/0/positive.json"
BUILD_RECORD = "results/_build/build.json"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile") / "site"
    build_atlas(make_config({}, {**SETTINGS, "out": str(out)}), progress=False)
    return out


@pytest.fixture
def site(built: Path, tmp_path: Path) -> Path:
    """A copy of the built site, at tmp_path/a/site, and tmp_path/secret.txt beside it."""
    copy = tmp_path / "a" / "site"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns(".atlas.lock"))
    (tmp_path / "secret.txt").write_bytes(SECRET)
    return copy


def units_file(site: Path) -> Path:
    return site / json.loads((site / "atlas.json").read_text())["layers"][0]["units_file"]


def edit_unit(site: Path, index: int, **fields: object) -> None:
    """Sets `fields` of unit `index` of conv1 in its units file, as a hand edit would."""
    path = units_file(site)
    content = json.loads(path.read_text())
    content["units"][index].update(fields)
    path.write_text(json.dumps(content))


def leaked(html: str) -> bool:
    return base64.b64encode(SECRET).decode() in html or "TOP SECRET" in html


def render(site: Path, capsys: pytest.CaptureFixture) -> tuple[int, list[str], list[str]]:
    code = main(["render", "--out", str(site), "--quiet"])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


# --- site paths -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["javascript:alert(1)", "http://example.com/x.png",
                                  "data:text/html,<script>", "file:///etc/passwd",
                                  "C:/secret.txt", "JavaScript:void(0)/x.html"])
def test_a_url_scheme_is_not_a_site_path(path: str) -> None:
    with pytest.raises(ValueError, match="must not carry a URL scheme"):
        site_path_parts(path)


def test_a_link_inside_the_site_is_followed_and_a_link_out_refused(site: Path) -> None:
    (site / "inside.png").symlink_to(site / "results/conv1/0/positive-0.png")
    (site / "out.png").symlink_to(site.parent.parent / "secret.txt")
    (site / "folder").symlink_to(site.parent.parent, target_is_directory=True)
    assert site_file(site, "inside.png") == (site / "results/conv1/0/positive-0.png").resolve()
    for path in ("out.png", "folder/secret.txt"):
        with pytest.raises(ValueError, match=f"site path '{path}' leads out of the site "
                                             "through a link"):
            site_file(site, path)


# --- atlas.open and the notebook display ------------------------------------------
def test_an_image_named_outside_the_site_is_never_embedded(
        site: Path, capsys: pytest.CaptureFixture) -> None:
    secret = site.parent.parent / "secret.txt"
    (site / "results/conv1/1/link.png").symlink_to(secret)
    edit_unit(site, 0, views={"positive": {"images": [str(secret)], "activations": [1.0]}})
    edit_unit(site, 1, views={"positive": {"images": ["../../secret.txt",
                                                      "results/conv1/1/link.png"],
                                           "activations": [1.0, 2.0]}})
    opened = atlas.open(site)
    for index in (0, 1):
        assert not leaked(opened.unit("conv1", index)._repr_html_())
    assert not leaked(opened.layer("conv1")._repr_html_())
    notes = capsys.readouterr().err.splitlines()
    assert f"atlas: left out of the display: atlas.json names '{secret}' as an image of " \
           f"conv1:0, which is not a file of the site (site path must be relative to the " \
           f"site root: '{secret}'); run `atlas render --out {site.resolve()}` to write " \
           "atlas.json again" in notes
    assert any("'results/conv1/1/link.png' leads out of the site through a link" in note
               for note in notes)
    with pytest.raises(atlas.AtlasError, match=r"^atlas.json names '\.\./\.\./secret.txt' as "
                       r"an image of conv1:1, which is not a file of the site \(site path "
                       r"has an empty, '\.' or '\.\.' segment"):
        assert not opened.unit("conv1", 1).views


def test_a_page_named_as_a_url_is_refused(site: Path, capsys: pytest.CaptureFixture) -> None:
    edit_unit(site, 0, page="javascript:alert(1)")
    opened = atlas.open(site)
    unit = opened.unit("conv1", 0)
    with pytest.raises(atlas.AtlasError, match=r"^atlas.json names 'javascript:alert\(1\)' "
                       "as the page of conv1:0, which is not a file of the site"):
        opened.page(unit)
    assert "javascript:" not in unit._repr_html_()
    assert "left out of the display" in capsys.readouterr().err


@pytest.mark.parametrize(("units_file", "says"), [
    ("../../secret.txt", "site path has an empty, '.' or '..' segment: '../../secret.txt'"),
    ("/etc/passwd", "site path must be relative to the site root: '/etc/passwd'"),
    ("data/out.json", "site path 'data/out.json' leads out of the site through a link"),
])
def test_a_units_file_outside_the_site_is_refused(site: Path, units_file: str,
                                                  says: str) -> None:
    (site / "data/out.json").symlink_to(site.parent.parent / "secret.txt")
    index = json.loads((site / "atlas.json").read_text())
    index["layers"][0]["units_file"] = units_file
    (site / "atlas.json").write_text(json.dumps(index))
    with pytest.raises(atlas.AtlasError) as raised:
        atlas.open(site)
    assert str(raised.value) == ("cannot read the units of layer 'conv1' that atlas.json "
                                 f"names ({says}); run `atlas render` to write them again")


@pytest.mark.parametrize(("content", "says"), [
    ("{oops", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ("[]", "a JSON list, not an object"),
    ('{"model": {}}', "it has no list of 'layers'"),
    ('{"layers": [{"name": "conv1"}]}', "layer 'conv1' names no 'units_file'"),
    ('{"layers": [7]}', "a layer is not an object with a 'name'"),
])
def test_a_broken_atlas_json_is_one_line(site: Path, content: str, says: str) -> None:
    (site / "atlas.json").write_text(content)
    with pytest.raises(atlas.AtlasError) as raised:
        atlas.open(site)
    assert str(raised.value) == (f"{site.resolve()}/atlas.json is not an atlas's index "
                                 f"({says}); run `atlas render --out {site.resolve()}` to "
                                 "write it again from the stored results")


# --- atlas render and atlas build on tampered records -----------------------------
@pytest.mark.parametrize(("content", "says"), [
    ("[]", "a JSON list, not an object"),
    ('{"images": 5}', "its 'images' is not a list of file names"),
    ('{"key": "x"}', "it names no 'images'"),
    ('{"images": []}', "KeyError: 'activations'"),
    ('{"images": ["/etc/passwd"], "activations": [1]}',
     "site path must be relative to the site root: '/etc/passwd'"),
    ('{"images": ["../../secret.txt"], "activations": [1]}',
     "site path has an empty, '.' or '..' segment: '../../secret.txt'"),
    ('{"images": [], "activations": [], "transparency": "x"}',
     "its 'transparency' is not a list of file names"),
    ("{oops", "not JSON: Expecting property name enclosed in double quotes: line 1 "
              "column 2 (char 1)"),
])
def test_render_leaves_a_broken_record_out_in_one_line(
        site: Path, content: str, says: str, capsys: pytest.CaptureFixture) -> None:
    (site / RECORD).write_text(content)
    code, out, err = render(site, capsys)
    assert (code, err) == (0, [])
    assert out[0] == ("atlas: 1 broken record(s) under results/ were left out: delete them "
                      "and run `atlas build` to compute them again (first: "
                      f"{RECORD}: {says})")
    units = json.loads(units_file(site).read_text())["units"]
    assert "positive" not in units[0]["views"] and "positive" in units[1]["views"]
    assert not any(leaked(page.read_text()) or "/etc/passwd" in page.read_text()
                   for page in site.rglob("*.html"))


@pytest.mark.parametrize(("edit", "says"), [
    (lambda record: [], "a JSON list, not an object"),
    (lambda record: {key: value for key, value in record.items() if key != "layers"},
     "its 'layers' is not a list"),
    (lambda record: {**record, "layers": [{**record["layers"][0], "units": "0-1"}]},
     "layer 'conv1''s 'units' is not a list of whole numbers"),
    (lambda record: {**record, "classes": "../../../secret.txt"},
     "its 'concepts' or 'classes' names something other than a file of results/"),
    (lambda record: {**record, "connections": {"pairs": [["conv1"]]}},
     "its 'connections' is not a list of layer pairs"),
])
def test_render_refuses_a_broken_build_record_in_one_line(
        site: Path, edit, says: str, capsys: pytest.CaptureFixture) -> None:
    path = site / BUILD_RECORD
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    code, _, err = render(site, capsys)
    assert (code, err) == (2, [f"atlas: error: {path} is broken ({says}); run `atlas build "
                               f"--out {site}` to write it again"])


def test_a_build_computes_a_broken_record_again(site: Path) -> None:
    secret = site.parent.parent / "secret.txt"
    (site / RECORD).write_text(json.dumps({"key": "x", "images": ["../../secret.txt"],
                                           "activations": [1]}))
    image = site / "results/conv1/1/positive-0.png"
    image.unlink()  # its record names it: the view is not done
    report = build_atlas(make_config({}, {**SETTINGS, "out": str(site)}), progress=False)
    assert ("1 broken record(s) under results/ were read as missing and computed again "
            f"(first: {RECORD}: site path has an empty, '.' or '..' segment: "
            "'../../secret.txt')") in report.lines()
    assert report.jobs_computed == 2
    assert secret.read_bytes() == SECRET and image.is_file()
    record = json.loads((site / RECORD).read_text())
    assert record["images"] == ["results/conv1/0/positive-0.png"]
    opened = atlas.open(site)
    assert opened.unit("conv1", 1).views["positive"] == [image.resolve()]


def test_a_broken_stored_dictionary_is_fitted_again_and_render_says_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "concepts"
    settings = {"layers": ["conv3"], "channels": "0", "steps": 2, "out": str(out),
                "views": ["positive", "examples"], "concepts": {"conv3": "sae:4"},
                "class_pages": False}
    build_atlas(make_config({}, settings), progress=False)
    [stored] = (out / "results" / "_concepts").glob("*/dictionary.npz")
    good = stored.read_bytes()
    stored.write_bytes(good[: len(good) // 2])  # truncated
    assert main(["render", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"the dictionary stored in {stored.parent} does not load" in err[0]
    build_atlas(make_config({}, settings), progress=False)  # fits it again
    assert stored.read_bytes() == good  # the same seeded fit, whole
    assert main(["render", "--out", str(out), "--quiet"]) == 0
