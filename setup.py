"""The package layout (the rest of the metadata is in pyproject.toml).

Every package under atlas/ is found rather than listed, so a new one (as
atlas/bench once was) cannot be left out of a wheel; the top-level templates/
installs as atlas.templates, so an installed atlas finds its pages the same way
a checkout does.
"""

from setuptools import find_namespace_packages, setup

TEMPLATES = {"atlas.templates": "templates", "atlas.templates.sections": "templates/sections",
             "atlas.templates.static": "templates/static"}

setup(
    packages=find_namespace_packages(include=["atlas", "atlas.*"],
                                     exclude=["*.__pycache__"]) + list(TEMPLATES),
    package_dir=TEMPLATES,
)
