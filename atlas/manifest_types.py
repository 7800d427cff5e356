"""The manifest `atlas.json`: the one contract between compute and pages.

`atlas.pipeline.manifest` writes it, `atlas.site` reads it; both import these
types, so a field is declared once. docs/manifest.md explains each field.
Every path is relative to the site root with '/' separators; text that came
from users (module names, file names, class names) is untrusted and must be
escaped wherever it is shown.
"""

from __future__ import annotations

from typing import Any, TypedDict

MANIFEST = "atlas.json"
# 2: views listed in page order, the dataset, examples and spectrum views,
# data-based labels and measurements. Stored results keep their cache keys.
# 3: atlas.json is an index; each layer's units are a file of their own (`units_file`),
# so no file grows with the whole atlas and pages are rendered a layer at a time.
FORMAT = 3
LAYER_FILES = "data"  # the folder of the per-layer unit files, under the site root
# A site's own marks at its root: the marker that says the folder is atlas's and lists
# the files its last render put in place (pipeline/control/ownership.py), and the lock
# of the build writing it (pipeline/control/lock.py).
SITE_MARKER = ".atlas-site"
LOCK_NAME = ".atlas.lock"


class ViewEntry(TypedDict, total=False):
    images: list[str]
    activations: list[float | None]  # the target's activation on each image
    transparency: list[str]  # param "maco": each image's transparency map (greyscale PNG)
    positions: list[list[int]]  # neuron: (h, w) in the layer's output grid
    seeds: list[int]  # seeds: the seed index of each image
    steps: list[int]  # evolution: the step of each snapshot
    loss: list[float]  # evolution: the objective at every step
    weight_range: list[float]  # kernel: min and max raw weight of the filter


class Example(TypedDict):
    image: str  # the crop (conv unit) or whole image (linear unit)
    source: str  # the original's path relative to the dataset root, or its index
    value: float  # the unit's value on the image: its extreme over positions
    position: list[int] | None  # (h, w) of that extreme; None for a linear unit
    labels: dict[str, str]  # e.g. {"class": "3", "colour": "red"}


class Histogram(TypedDict):
    edges: list[float]  # bins + 1 edges
    counts: list[int]


# The four columns of dataset examples, from most inhibiting to most exciting,
# in the order the spectrum and the examples section show them.
EXAMPLE_COLUMNS = ("min", "below", "above", "max")


class ExamplesEntry(TypedDict):
    max: list[Example]  # highest value first
    min: list[Example]  # lowest value first
    below: list[Example]  # just below the threshold, closest first
    above: list[Example]  # at or just above the threshold, closest first
    threshold: float
    histogram: Histogram
    stats: dict[str, Any]  # mean, min, max, quantiles {"0.5": ...}


class SpectrumItem(TypedDict, total=False):
    image: str
    value: float | None
    source: str
    position: list[int] | None
    labels: dict[str, str]


class SpectrumColumn(TypedDict):
    name: str  # negative, min, below, above, max, positive
    items: list[SpectrumItem]


class SpectrumEntry(TypedDict):
    columns: list[SpectrumColumn]
    threshold: float


class LabelShare(TypedDict):
    value: str  # the dominant label among the top examples
    count: int  # how many of them carry it
    of: int  # how many top examples there are


class UnitScores(TypedDict, total=False):
    polysemanticity: float | None  # from the seeds view
    diversity_spread: float | None  # the same spread, of the diversity images
    colour: float | None  # eta² colour share (colored digits)
    faithfulness: float | None
    faithfulness_baseline: float | None
    super_stimulus: float | None  # positive_value / the data maximum
    positive_value: float | None  # the unit's value on its positive image (extreme over positions)
    example_polysemanticity: float | None


class Connection(TypedDict):
    layer: str  # the connected unit's layer
    unit: int
    weight: float  # L2 norm of the expanded weights (pipeline/weights/circuits.py)
    scale: float  # what one step of `map` is worth (shared by one list's entries)
    map: list[list[int]]  # the spatial weights, ints in [-99, 99]; map x scale = weights


class UnitClass(TypedDict):
    index: int  # the class's unit of the class output
    name: str  # untrusted text
    page: str  # its class page
    share: float | None  # the share of its margin the unit carries; None on its logit


class Loading(TypedDict):
    layer: str  # the channel layer, or its concept layer
    unit: int
    weight: float


# A unit's flags, in the order `UnitEntry.flags` lists them: pipeline/analysis/flags.py decides
# them, site/status.py words them.
LOST_TO_DATA = "lost_to_data"
NEVER_FIRES = "never_fires"
UNIT_FLAGS = (LOST_TO_DATA, NEVER_FIRES)


class UnitEntry(TypedDict, total=False):
    index: int
    page: str
    label: str
    branch: str | None
    status: str  # "ok" or "failed"
    dead: bool
    # What the data says about its pictures (pipeline/analysis/flags.py), from: "lost_to_data" (the
    # positive visualization is below the unit's dataset maximum), "never_fires" (at or
    # below its clamp's floor on every dataset image). [] without a dataset.
    flags: list[str]
    failed_views: dict[str, str]  # view -> reason (only on failed units)
    views: dict[str, Any]  # view name -> ViewEntry, ExamplesEntry or SpectrumEntry
    scores: UnitScores
    labels: dict[str, LabelShare]  # label key ("class", "colour") -> dominant value
    family: int | None  # the number of its family in the layer's `families`, or None
    connections: dict[str, list[Connection]]  # "in": from the layer before, "out": to the next
    # Where a dictionary was fitted: a concept's largest channels, a channel's largest
    # concepts, by the weight of the channel in the concept's direction (unit length).
    loadings: list[Loading]
    # Where the build has class pages: the classes the unit carries most of (its class,
    # for a unit of the class output), from pipeline/classes.
    classes: list[UnitClass]



class Branch(TypedDict):
    label: str
    start: int
    stop: int


class PreActivation(TypedDict):
    """A layer clamped at a floor (a ReLU): its values are read before the clamp."""

    floor: float  # what the clamp floors the output at
    source: str  # where the values come from, in words ("the input of ReLU6 ...")


class Caricature(TypedDict):
    images: list[str]  # the caricatures
    originals: list[str]  # the dataset images they caricature, at the build's image size
    sources: list[str]  # those images' paths in the dataset (untrusted text)
    activations: list[float]  # each caricature's score: 1 = the real image's own pattern


class Family(TypedDict):
    number: int  # from 1, largest family first
    name: str  # its units' most common top-examples label, "class 3 (7 of 9)", or "family N"
    units: list[int]  # unit indices
    share: float  # of the layer's units
    correlation: float  # mean correlation between its members


class Concepts(TypedDict):
    """A layer's dictionary of concepts (pipeline/concepts): how it was fitted and what
    it is worth, measured on the activation vectors it was fitted on."""

    method: str  # "nmf" or "sae"
    count: int  # concepts
    vectors: int  # activation vectors sampled over the dataset
    per_image: int  # positions sampled per image
    r2: float  # share of the vectors' variance the dictionary reconstructs
    stability: float  # mean cosine of its directions matched to a fit with the next seed
    dead: int  # concepts never active on the sample


class _LayerExtras(TypedDict, total=False):
    # Only where the build fitted a dictionary for the layer, on the layer and on its
    # concept layer, whose units are the concepts (models/concept_reads.py).
    concepts: Concepts
    concepts_of: str  # only on a concept layer: the layer whose concepts it holds


class LayerHeader(_LayerExtras):
    """A layer as atlas.json lists it: everything but its units."""

    name: str
    slug: str
    page: str
    type: str
    shape: list[int]
    channels: int
    branches: list[Branch]
    # Set where the layer's output is clamped (a ReLU): then every value of its units,
    # examples, histogram, threshold and view activations, is its pre-activation, and the
    # negative and neuron views optimize it. None: values are the layer's output.
    pre_activation: PreActivation | None
    # A few dataset images and, for each, an image optimized to amplify the layer's whole
    # activation pattern on it (pipeline/dataset/caricature.py); None without that view.
    caricature: Caricature | None
    receptive_field: list[int] | None  # (height, width) in input pixels; None: whole image
    # units grouped by correlated activations (pipeline/analysis/families.py)
    families: list[Family]
    units_file: str  # the LayerFile holding its units, e.g. "data/mixed4a.json"
    unit_count: int
    failed_views: int  # views that failed, over all its units


class LayerEntry(LayerHeader):
    """A layer with its units, as a reader of the whole atlas sees it."""

    units: list[UnitEntry]


class LayerFile(TypedDict):
    """One layer's units: the file `LayerHeader.units_file` names."""

    format: int
    layer: str
    units: list[UnitEntry]


class JointEntry(TypedDict):
    label: str
    terms: list[dict[str, Any]]
    images: list[str]
    activations: list[list[float]]


class CompareUnit(TypedDict):
    label: str  # "conv2:5"
    layer: str
    unit: int
    page: str  # the unit's page


class CompareCell(TypedDict):
    image: str | None  # None where the choice does not apply (see skipped)
    activation: float | None  # the target's channel mean on the final image
    reference: bool  # the build's own setting on this axis
    target: str | None  # the unit optimized for ("conv1:5" on the depth axis)
    note: str | None  # what the caption adds: a class, k, weights, a learning rate
    skipped: str | None  # why there is no image


class CompareChoice(TypedDict):
    name: str  # e.g. "fourier+decorrelate", or a layer name on the depth axis
    label: str  # the column heading


class CompareRow(TypedDict):
    unit: int  # index into CompareEntry.units
    cells: list[CompareCell]  # one per choice, in the choices' order


class CompareAxis(TypedDict):
    name: str  # param, transforms, objective, regularization, depth
    title: str
    about: str
    choices: list[CompareChoice]
    rows: list[CompareRow]  # one per unit, in the units' order


class CompareEntry(TypedDict):
    method: str
    units: list[CompareUnit]
    axes: list[CompareAxis]  # in the order of atlas.pipeline.compare.axes.AXES


class DatasetInfo(TypedDict):
    spec: str
    description: str
    images: int  # images scanned
    skipped: int  # files that could not be read
    skipped_sources: list[str]  # the first few of them
    label_keys: list[str]
    fingerprint: str


class ColourRow(TypedDict, total=False):
    name: str
    colour_score: float | None  # eta² colour share, mean over units
    shape_score: float | None
    saturation: float | None
    verdict: str | None  # "colour" or "shape"
    top_colour_share: float | None  # mean share of a unit's top examples wearing one colour
    top_class_share: float | None  # mean share of a unit's top examples of one class
    examples_verdict: str | None  # "colour" or "shape", from the top examples


class ShortcutClass(TypedDict, total=False):
    class_: int  # serialized as "class": the logit's class index
    layer: str
    unit_page: str
    image: str | None  # the logit's positive visualization
    class_colour: str  # "#rrggbb": the class's training colour
    image_colour: str
    nearest_class_colour: int  # the class whose training colour the visualization is nearest
    matches: bool  # the visualization wears the class colour
    top_count: int  # the logit's top dataset examples
    top_of_class: int  # how many of them are of its class
    top_in_class_colour: int  # how many of them wear its class's training colour
    top_images: list[str]


class PolysemanticUnit(TypedDict, total=False):
    label: str
    page: str
    score: float  # the score the section ranks by (see its method)
    seeds_score: float | None  # cross-check: the seeds view's spread
    diversity_score: float | None  # cross-check: the diversity view's spread
    labels: dict[str, LabelShare]
    images: list[str]  # seed images
    examples: list[str]  # top dataset examples


class FaithfulnessRow(TypedDict):
    name: str
    faithfulness: float | None  # mean over the layer's units
    baseline: float | None  # the same measure for random dataset images
    super_stimulus: float | None  # mean positive value / data maximum


class Summary(TypedDict, total=False):
    colour: dict[str, Any]  # {"method", "examples_method", "layers": [ColourRow]}
    shortcut: dict[str, Any] | None  # {"method", ..., "classes": [ShortcutClass]}
    polysemantic: dict[str, Any]  # {"method", "source": "examples" | "seeds", "units": [...]}
    faithfulness: dict[str, Any] | None  # {"method", "layers": [FaithfulnessRow]}
    # Whether the model classifies each class logit's positive image as its class
    # (pipeline/analysis/recognition.py); None without a class output among the chosen layers.
    recognition: dict[str, Any] | None
    # Each dictionary's concepts against its layer's channels: {"method", "layers": [...]}
    # (pipeline/analysis/concepts_compare.py); None without a dictionary.
    concepts: dict[str, Any] | None


class ClassUnit(TypedDict):
    layer: str  # the measured layer, or its concept layer
    unit: int
    share: float  # of the class's mean margin


class ClassRow(TypedDict):
    index: int  # the class's unit of the class output
    name: str  # untrusted text
    slug: str
    page: str  # classes/<index>.html
    images: int  # the dataset images of the class the measure read
    margin: float  # the class's logit minus the mean logit, averaged over them
    attributed: float  # its gradient x activation total at the layer
    channels_share: float  # attributed / margin: what all the channels carry
    channels: list[ClassUnit]  # largest share first
    concepts: list[ClassUnit]  # [] where the layer has no dictionary
    concepts_share: float | None  # what the dictionary's concepts carry in all
    bias_share: float | None  # what an SAE's input bias carries


class ClassesEntry(TypedDict):
    """The class pages (pipeline/classes): for each class, the units of the last chosen
    layer before the class output with the largest shares of its margin."""

    layer: str
    concepts_layer: str | None
    logits: str
    labels: str  # "dataset" (its class labels) or "predictions" (the model's)
    method: str
    images: int
    page: str  # the list of classes: classes.html
    classes: list[ClassRow]


# build.json's `model` and `settings`, passed on as the manifest's.
class ModelRecord(TypedDict):
    spec: str
    title: str
    description: str
    weights: str | None  # the weights file's name
    weights_sha256: str | None
    input_size: int
    parameters: int
    preprocess: str
    architecture: list[dict[str, Any]]  # {name, type, shape, channels} of the layers shown
    accuracy: dict[str, Any]


class SettingsRecord(TypedDict, total=False):
    steps: int
    image_size: int
    seed: int
    lr: float | None
    param: str  # e.g. "fft+decorrelate, sigmoid"
    transforms: str
    tv_weight: float
    l2_weight: float
    objective: str
    diversity_weight: float
    views: list[str]
    magnitude: str | None  # MACO's magnitude spectrum: its source, or None
    precision: str
    channels_last: bool
    images: str  # "png", or "webp (quality Q)"
    # with a technique comparison
    compare_units: int
    class_weight: float
    logits_layer: str | None


class _ManifestExtras(TypedDict, total=False):
    classes: ClassesEntry  # only where the build has class pages


class Manifest(_ManifestExtras):
    format: int
    atlas_version: str
    generated_at: str
    model: ModelRecord
    settings: SettingsRecord
    views: list[str]  # the views of this build, in page order
    dataset: DatasetInfo | None
    families_method: str | None  # how the layers' families were found
    pages: dict[str, str]
    layers: list[LayerHeader]  # each layer's units are in its `units_file`
    joint: list[JointEntry]
    compare: CompareEntry | None  # the compare page; None: the build has no compare results
    summary: Summary
