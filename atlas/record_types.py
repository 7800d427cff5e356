"""The two files a build writes for `atlas render` beside its views' records,
as types: `build.json` (what the build was made with and of;
`pipeline/record.py` writes it) and `analysis.json` (the measured answers;
`pipeline/analysis/questions.py` writes it). `pipeline/manifest.py` reads
both to make the manifest, with no model loaded."""

from __future__ import annotations

from typing import Any, TypedDict

from atlas.manifest_types import Branch, DatasetInfo, ModelRecord, SettingsRecord


class PreActivationRecord(TypedDict):
    floor: float
    source: str


class LayerRecord(TypedDict):
    name: str
    type: str
    shape: list[int]
    channels: int
    units: list[int]
    branches: list[Branch]
    pre_activation: PreActivationRecord | None
    kernel: bool
    receptive_field: list[int] | None


class ConnectionsRecord(TypedDict):
    top: int
    pairs: list[list[str]]  # [earlier, later] layer names, forward order


class BuildRecord(TypedDict, total=False):
    model: ModelRecord
    settings: SettingsRecord
    layers: list[LayerRecord]
    joint: list[str]  # the joint objectives' expressions
    connections: ConnectionsRecord
    dataset: DatasetInfo | None
    compare: dict[str, list[list[Any]]]  # {"units": [[layer, unit], ...]}
    concepts: dict[str, str]  # layer -> its dictionary's folder under results/_concepts
    classes: str  # the class pages' record under results/_classes (pipeline/classes)


class _AnalysisExtras(TypedDict, total=False):
    # Only where the build fitted a dictionary (pipeline/analysis/concepts_compare.py).
    concepts: dict[str, Any]


class Analysis(_AnalysisExtras):
    units: dict[str, dict[str, dict[str, Any]]]  # layer -> unit (as text) -> its scores
    colour: dict[str, Any]
    shortcut: dict[str, Any] | None
    recognition: dict[str, Any] | None
    polysemantic: dict[str, Any]
    faithfulness: dict[str, Any] | None
    families: dict[str, Any]
