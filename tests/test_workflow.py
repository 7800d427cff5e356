"""The GitHub Pages workflow: valid for GitHub (its published JSON schema) and
wired the way the README says (build with `make atlas`, upload site/, deploy).

No network: the schema ships inside check-jsonschema (a dev dependency)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
README = ROOT / "README.md"
PYPROJECT = ROOT / "pyproject.toml"

# owner/repo[/path]@ a tag like v4 / v4.1 / v4.1.2, or a full commit SHA.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


def load_workflow(path: Path) -> dict[str, Any]:
    """The workflow as a dict. PyYAML follows YAML 1.1, where a bare `on` is the
    boolean true: the trigger key is put back under "on"."""
    workflow = yaml.safe_load(path.read_text())
    if not isinstance(workflow, dict):
        raise TypeError(f"{path}: not a mapping")
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def steps_using(job: dict, action: str) -> list[dict]:
    return [step for step in job.get("steps") or []
            if str(step.get("uses", "")).split("@")[0] == action]


def runs(job: dict) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps") or [])


def workflow_problems(workflow: dict[str, Any]) -> list[str]:
    """Everything that would keep this workflow from publishing site/ on Pages."""
    problems = []
    on = workflow.get("on") or {}
    if isinstance(on, (str, list)):  # `on: push` or `on: [push, workflow_dispatch]`
        on = {event: None for event in ([on] if isinstance(on, str) else on)}
    push = on.get("push", False)
    if push is False or "main" not in ((push or {}).get("branches") or []):
        problems.append("not triggered by a push to main")
    if "workflow_dispatch" not in on:
        problems.append("cannot be started by hand (workflow_dispatch)")

    jobs = workflow.get("jobs") or {}
    build, deploy = jobs.get("build") or {}, jobs.get("deploy") or {}
    for name, job in (("build", build), ("deploy", deploy)):
        if not job:
            problems.append(f"no {name} job")

    permissions = {**(workflow.get("permissions") or {}), **(deploy.get("permissions") or {})}
    for scope in ("pages", "id-token"):
        if permissions.get(scope) != "write":
            problems.append(f"deploy lacks permission {scope}: write")
    if not (workflow.get("concurrency") or {}).get("group"):
        problems.append("no concurrency group: two deployments could race")

    if not steps_using(build, "actions/checkout"):
        problems.append("build does not check out the repository")
    if not re.search(r"^\s*make atlas\s*$", runs(build), re.MULTILINE):
        problems.append("build does not run `make atlas`")
    uploads = steps_using(build, "actions/upload-pages-artifact")
    if [str((step.get("with") or {}).get("path", "")).rstrip("/") for step in uploads] != ["site"]:
        problems.append("build does not upload site/ with actions/upload-pages-artifact")

    needs = deploy.get("needs")
    if "build" not in ([needs] if isinstance(needs, str) else needs or []):
        problems.append("deploy does not wait for build (needs: build)")
    deployments = steps_using(deploy, "actions/deploy-pages")
    if not deployments:
        problems.append("deploy does not use actions/deploy-pages")
    environment = deploy.get("environment") or {}
    if isinstance(environment, str):
        environment = {"name": environment}
    if environment.get("name") != "github-pages":
        problems.append("deploy is not in the github-pages environment")
    step_id = deployments[0].get("id") if deployments else None
    if not step_id or environment.get("url") != f"${{{{ steps.{step_id}.outputs.page_url }}}}":
        problems.append("deploy's environment url is not the deploy-pages step's page_url")

    for name, job in jobs.items():
        for step in job.get("steps") or []:
            uses = step.get("uses")
            if uses and not uses.startswith("./") and not PINNED.match(uses):
                problems.append(f"{name}: `{uses}` is not pinned to a version")
    return problems


def schema_check(path: Path) -> subprocess.CompletedProcess:
    """GitHub's workflow schema (SchemaStore's, vendored in check-jsonschema)."""
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.fail("check-jsonschema is missing: `make install` installs the dev dependencies")
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(path)],
        check=False, capture_output=True, text=True, timeout=120,
    )


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    """The workflow with `old` replaced (it must be there, or the test proves nothing)."""
    text = WORKFLOW.read_text()
    assert old in text, f"{old!r} is no longer in {WORKFLOW.name}: update this test"
    path = tmp_path / "pages.yml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_workflow_matches_github_schema():
    result = schema_check(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path):
    result = schema_check(broken_copy(tmp_path, "runs-on:", "runs_on:"))
    assert result.returncode != 0, result.stdout


def test_workflow_publishes_site():
    assert workflow_problems(load_workflow(WORKFLOW)) == []


def test_on_is_read_as_the_trigger_key():
    workflow = load_workflow(WORKFLOW)
    assert True not in workflow and "push" in workflow["on"]


BREAKAGES = [
    ("branches: [main]", "branches: [develop]", "not triggered by a push to main"),
    ("  workflow_dispatch:\n", "", "cannot be started by hand (workflow_dispatch)"),
    ("id-token: write", "id-token: read", "deploy lacks permission id-token: write"),
    ("  pages: write", "  pages: read", "deploy lacks permission pages: write"),
    ("run: make atlas", "run: make test", "build does not run `make atlas`"),
    ("path: site", "path: _site",
     "build does not upload site/ with actions/upload-pages-artifact"),
    ("needs: build", "needs: []", "deploy does not wait for build (needs: build)"),
    ("uses: actions/deploy-pages@", "uses: actions/deploy-pagez@",
     "deploy does not use actions/deploy-pages"),
    ("name: github-pages", "name: production", "deploy is not in the github-pages environment"),
    ("outputs.page_url", "outputs.url",
     "deploy's environment url is not the deploy-pages step's page_url"),
    ("actions/checkout@v", "actions/checkout@main-v", "not pinned to a version"),
]


@pytest.mark.parametrize("old, new, problem", BREAKAGES, ids=[b[2][:40] for b in BREAKAGES])
def test_checker_rejects_a_broken_workflow(tmp_path, old, new, problem):
    problems = workflow_problems(load_workflow(broken_copy(tmp_path, old, new)))
    assert any(problem in p for p in problems), problems


def test_pins_accept_tags_and_shas_only():
    assert PINNED.match("actions/checkout@v4")
    assert PINNED.match("actions/checkout@v4.2.1")
    assert PINNED.match("actions/checkout@" + "a" * 40)
    for loose in ("actions/checkout", "actions/checkout@main", "actions/checkout@latest",
                  "actions/checkout@abc123"):
        assert not PINNED.match(loose), loose


def test_build_command_is_the_readmes():
    """The workflow builds the way the README tells a reader to."""
    readme = README.read_text()
    assert re.search(r"^make atlas\b", readme, re.MULTILINE)
    assert ".github/workflows/pages.yml" in readme


def test_python_version_is_supported():
    requires = re.search(r'^requires-python\s*=\s*"([^"]+)"', PYPROJECT.read_text(), re.MULTILINE)
    assert requires, "pyproject.toml has no requires-python"
    build = load_workflow(WORKFLOW)["jobs"]["build"]
    versions = [str((step.get("with") or {}).get("python-version"))
                for step in steps_using(build, "actions/setup-python")]
    assert versions and all(v in SpecifierSet(requires.group(1)) for v in versions), versions
