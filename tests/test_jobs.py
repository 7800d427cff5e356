"""Planning: which jobs a unit gets, their seeds, their settings keys, batching,
and packing a batch into one objective."""

from __future__ import annotations

import dataclasses
import zlib

import pytest
import torch
from engine_helpers import SEED
from torch.testing import assert_close

from atlas.config import BuildConfig
from atlas.models.layers import LayerInfo
from atlas.optvis.objectives import INPUT, Term
from atlas.pipeline import jobs as job_plan
from atlas.pipeline.optimize.pack import pack
from atlas.pipeline.jobs import ImageSpec, Job

CONV_SHAPE = (4, 7, 7)
LINEAR_SHAPE = (10,)
UNIT_VIEWS = ["positive", "negative", "diversity", "neuron", "seeds"]


def _config(**changes) -> BuildConfig:
    return dataclasses.replace(BuildConfig(seed=SEED), **changes)


def _jobs(config: BuildConfig, layer: str = "conv", shape=CONV_SHAPE, unit: int = 2,
          image_size: int = 28) -> dict[str, Job]:
    common = job_plan.common_settings(config, "tiny", "abc123", image_size, "standard")
    jobs = job_plan.unit_jobs(config, common, LayerInfo(layer, "Conv2d", tuple(shape)), unit)
    assert len({job.view for job in jobs}) == len(jobs)
    return {job.view: job for job in jobs}


# --- unit_jobs ---------------------------------------------------------------------


def test_conv_unit_gets_every_optimized_view() -> None:
    jobs = _jobs(_config())
    assert list(jobs) == UNIT_VIEWS
    assert {view: len(job.images) for view, job in jobs.items()} == {
        "positive": 1, "negative": 1, "diversity": 4, "neuron": 3, "seeds": 5,
    }
    for job in jobs.values():
        assert (job.layer, job.unit) == ("conv", 2)
        assert job.settings["view"] == job.view
        assert job.settings["layer"] == "conv" and job.settings["unit"] == 2
        assert job.terms == []


def test_linear_unit_has_no_neuron_view() -> None:
    jobs = _jobs(_config(), layer="fc", shape=LINEAR_SHAPE, unit=7)
    assert list(jobs) == ["positive", "negative", "diversity", "seeds"]
    assert len(jobs["diversity"].images) == 4
    assert len(jobs["seeds"].images) == 5


def test_image_counts_follow_the_config() -> None:
    jobs = _jobs(_config(diversity_images=2, neuron_positions=5, seed_count=3))
    assert [len(jobs[v].images) for v in ("diversity", "neuron", "seeds")] == [2, 5, 3]


def test_neuron_positions_on_the_diagonal_through_the_centre() -> None:
    job = _jobs(_config())["neuron"]
    # fractions 1/4, 2/4, 3/4 of 7 -> 1, 3, 5; the centre 7 // 2 = 3 is among them
    assert [spec.position for spec in job.images] == [(1, 1), (3, 3), (5, 5)]
    assert job.settings["positions"] == [[1, 1], [3, 3], [5, 5]]
    assert job_plan.neuron_positions(8, 6, 1) == [(4, 3)]
    assert job_plan.neuron_positions(8, 8, 3) == [(2, 2), (4, 4), (6, 6)]


@pytest.mark.parametrize("count", [1, 3, 5])
def test_odd_neuron_position_counts_include_the_centre(count: int) -> None:
    for height, width in ((7, 7), (8, 8), (6, 9)):
        positions = job_plan.neuron_positions(height, width, count)
        assert len(positions) == count
        assert (height // 2, width // 2) in positions
        assert all(0 <= h < height and 0 <= w < width for h, w in positions)


def test_even_neuron_position_counts_are_evenly_spaced() -> None:
    assert job_plan.neuron_positions(8, 8, 2) == [(2, 2), (5, 5)]
    assert job_plan.neuron_positions(8, 8, 4) == [(1, 1), (3, 3), (4, 4), (6, 6)]


def test_seeds_view_numbers_its_images() -> None:
    job = _jobs(_config())["seeds"]
    assert [spec.seed_index for spec in job.images] == [0, 1, 2, 3, 4]
    assert all(spec.position is None for spec in job.images)


@pytest.mark.parametrize(
    ("views", "expected", "snapshot_every"),
    [
        (["positive"], ["positive"], 0),
        (["evolution"], ["positive"], 50),
        (["positive", "evolution"], ["positive"], 50),
        (["kernel", "joint"], [], None),
        (["seeds", "negative"], ["negative", "seeds"], None),
    ],
)
def test_views_select_jobs(views, expected, snapshot_every) -> None:
    jobs = _jobs(_config(views=views))
    assert list(jobs) == expected
    if snapshot_every is not None:
        assert jobs["positive"].settings["snapshot_every"] == snapshot_every


def test_image_seed_is_stable() -> None:
    assert job_plan.image_seed(0, "conv", 2, "positive") == (
        zlib.crc32(b"0/conv/2/positive") & 0x7FFFFFFF
    )
    assert job_plan.image_seed(0, "conv", 2, "positive") == 1414959016
    job = _jobs(_config())["diversity"]
    assert [spec.seed for spec in job.images] == [
        job_plan.image_seed(SEED, "conv", 2, "diversity", i) for i in range(4)
    ]
    # planning twice gives the same seeds
    assert _jobs(_config())["diversity"].images == job.images


def test_seeds_are_distinct_across_images_units_layers_and_views() -> None:
    seeds = []
    for layer, shape in (("conv", CONV_SHAPE), ("fc", LINEAR_SHAPE)):
        for unit in range(4):
            for job in _jobs(_config(), layer, shape, unit).values():
                seeds.extend(spec.seed for spec in job.images)
    assert len(seeds) == 2 * 4 * 14 - 4 * 3  # fc has no neuron view
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= seed < 2**31 for seed in seeds)


def test_build_seed_changes_every_image_seed() -> None:
    a = [s.seed for job in _jobs(_config(seed=0)).values() for s in job.images]
    b = [s.seed for job in _jobs(_config(seed=1)).values() for s in job.images]
    assert not set(a) & set(b)


# --- settings keys -----------------------------------------------------------------

ALL = set(UNIT_VIEWS)


@pytest.mark.parametrize(
    ("change", "changed_views"),
    [
        ({"steps": 100}, ALL),
        ({"lr": 0.1}, ALL),
        ({"seed": 3}, ALL),
        ({"param": "fourier"}, ALL),  # the default at 28 px is pixel
        ({"param": "maco"}, ALL),
        ({"decorrelate": False}, ALL),
        ({"valid": "clamp"}, ALL),
        ({"tv_weight": 0.5}, ALL),
        ({"l2_weight": 0.5}, ALL),
        ({"diversity_weight": 1.0}, {"diversity"}),
        ({"diversity_keep": 0.5}, {"diversity"}),
        ({"snapshot_every": 10}, {"positive"}),
        ({"neuron_positions": 5}, {"neuron"}),
        ({"batch_size": 8}, set()),
        ({"out": "elsewhere"}, set()),
        ({"device": "cpu"}, set()),
        ({"channels": "0-3"}, set()),
        ({"joint": ["fc:1 + fc:2"]}, set()),
        # both change a job's image count (and diversity's group size)
        ({"diversity_images": 2}, {"diversity"}),
        ({"seed_count": 3}, {"seeds"}),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict)
    else "all" if value == ALL else "+".join(sorted(value)) or "none",
)
def test_settings_key_changes_exactly_with_relevant_settings(change, changed_views) -> None:
    before = {view: job.key for view, job in _jobs(_config()).items()}
    after = {view: job.key for view, job in _jobs(_config(**change)).items()}
    assert set(before) == set(after) == ALL
    assert {view for view in ALL if before[view] != after[view]} == changed_views


def test_keys_do_not_depend_on_the_other_views_requested() -> None:
    full = {v: j.key for v, j in _jobs(_config()).items()}
    some = {v: j.key for v, j in _jobs(_config(views=["diversity", "evolution"])).items()}
    assert some == {"positive": full["positive"], "diversity": full["diversity"]}
    # without evolution, positive takes no snapshots: a different run, a different key
    plain = _jobs(_config(views=["positive"]))["positive"].key
    assert plain != full["positive"]


def test_common_settings_change_every_key() -> None:
    config = _config()
    base = {v: j.key for v, j in _jobs(config).items()}
    other = {v: j.key for v, j in _jobs(config, image_size=32).items()}
    assert all(base[v] != other[v] for v in base)
    common = job_plan.common_settings(config, "tiny", "abc123", 28, "standard")
    for model, sha, transforms in (("other", "abc123", "standard"), ("tiny", "fff", "standard"),
                                   ("tiny", "abc123", "none")):
        other = job_plan.common_settings(config, model, sha, 28, transforms)
        assert job_plan.settings_key(other) != job_plan.settings_key(common)


def test_keys_differ_between_units_and_layers() -> None:
    keys = {job.key for job in _jobs(_config(), unit=2).values()}
    keys |= {job.key for job in _jobs(_config(), unit=3).values()}
    keys |= {job.key for job in _jobs(_config(), layer="conv2", unit=2).values()}
    assert len(keys) == 3 * len(UNIT_VIEWS)


def test_key_is_a_short_stable_hash() -> None:
    key = _jobs(_config())["positive"].key
    assert len(key) == 16 and int(key, 16) >= 0
    assert _jobs(_config())["positive"].key == key


# --- batches -----------------------------------------------------------------------


def _job(n: int, unit: int = 0, view: str = "seeds", layer: str = "conv", **settings) -> Job:
    images = [ImageSpec(seed=1000 * unit + i) for i in range(n)]
    return Job(layer, unit, view, images, dict(settings))


def _sizes(packed: list[list[Job]]) -> list[list[int]]:
    return [[len(job.images) for job in batch] for batch in packed]


def test_batches_pack_consecutive_jobs_up_to_the_size() -> None:
    jobs = [_job(n, unit=i) for i, n in enumerate([1, 4, 3, 5, 1, 2, 2])]
    packed = job_plan.batches(jobs, 5)
    assert _sizes(packed) == [[1, 4], [3], [5], [1, 2, 2]]
    assert [job for batch in packed for job in batch] == jobs  # order kept, none lost


def test_batches_never_split_a_job() -> None:
    jobs = [_job(2, unit=0), _job(7, unit=1), _job(1, unit=2)]
    packed = job_plan.batches(jobs, 4)
    assert _sizes(packed) == [[2], [7], [1]]  # the oversize job gets a batch alone


@pytest.mark.parametrize("batch_size", [1, 3, 5, 8, 100])
def test_batches_respect_the_size(batch_size: int) -> None:
    jobs = [_job(n, unit=i) for i, n in enumerate([1, 4, 3, 5, 1, 3, 2, 1, 1])]
    packed = job_plan.batches(jobs, batch_size)
    for batch in packed:
        total = sum(len(job.images) for job in batch)
        assert total <= batch_size or len(batch) == 1
    assert [job for batch in packed for job in batch] == jobs
    # greedy: a batch closes only when the next job would not fit
    for batch, following in zip(packed, packed[1:]):
        assert sum(len(j.images) for j in batch) + len(following[0].images) > batch_size


def test_batches_of_nothing() -> None:
    assert job_plan.batches([], 4) == []


# --- pack --------------------------------------------------------------------------


def _pack_acts(batch: int) -> dict[str, torch.Tensor]:
    """conv (N, 4, 3, 3) with channel c = c + 1 everywhere; fc (N, 3) = [1, 2, 3];
    grey input images (no total variation, no l2)."""
    conv = (torch.arange(4.0) + 1).view(1, 4, 1, 1).expand(batch, 4, 3, 3).clone()
    fc = torch.tensor([1.0, 2.0, 3.0]).expand(batch, 3).clone()
    return {"conv": conv, "fc": fc, INPUT: torch.full((batch, 3, 4, 4), 0.5)}


def _unit_job(view: str, unit: int, n: int = 1, layer: str = "conv", **settings) -> Job:
    images = [ImageSpec(seed=unit * 10 + i, position=(i, i) if view == "neuron" else None)
              for i in range(n)]
    return Job(layer, unit, view, images, {"view": view, **settings})


def test_pack_signs_and_values() -> None:
    jobs = [
        _unit_job("positive", 0),
        _unit_job("negative", 1),
        _unit_job("diversity", 2, n=2, diversity_weight=2.0, diversity_keep=0.0),
        _unit_job("neuron", 3, n=2),
        _unit_job("seeds", 1, n=2),
        _unit_job("positive", 2, layer="fc"),
        Job(None, 0, "joint", [ImageSpec(seed=99)], {"view": "joint"},
            [Term(1.0, "fc", 0), Term(-0.5, "fc", 2)]),
    ]
    packed = pack(jobs, tv_weight=0.0, l2_weight=0.0)
    assert packed.offsets == [0, 1, 2, 4, 6, 8, 9]
    assert packed.jobs == jobs
    acts = _pack_acts(10)
    # positive +1; negative -2; diversity 3 + 2 * |3| * (-1) (identical images);
    # neuron 4; seeds 2; fc positive 3; joint 1 - 0.5 * 3
    assert_close(
        packed.objective(acts),
        torch.tensor([1.0, -2.0, -3.0, -3.0, 4.0, 4.0, 2.0, 2.0, 3.0, -0.5]),
    )
    # the measure is the target activation itself: positive for every unit
    assert_close(
        packed.measure(acts),
        torch.tensor([1.0, 2.0, 3.0, 3.0, 4.0, 4.0, 2.0, 2.0, 3.0, -0.5]),
    )
    assert packed.objective.layers == frozenset({"conv", "fc"})


def test_pack_negative_segment_pushes_down_positive_pushes_up() -> None:
    jobs = [_unit_job("positive", 0, n=1), _unit_job("negative", 0, n=1)]
    conv = torch.ones(2, 4, 3, 3, requires_grad=True)
    acts = {"conv": conv, INPUT: torch.full((2, 3, 4, 4), 0.5)}
    pack(jobs, 0.0, 0.0).objective(acts).sum().backward()
    assert float(conv.grad[0, 0].sum()) == pytest.approx(1.0)
    assert float(conv.grad[1, 0].sum()) == pytest.approx(-1.0)
    assert float(conv.grad[:, 1:].abs().sum()) == 0.0


def test_pack_neuron_uses_each_images_position() -> None:
    jobs = [_unit_job("neuron", 1, n=3)]
    conv = torch.zeros(3, 4, 3, 3)
    for i in range(3):
        conv[i, 1, i, i] = 10.0 + i  # only at the image's own position (i, i)
    assert_close(pack(jobs, 0.0, 0.0).objective({"conv": conv}), torch.tensor([10.0, 11.0, 12.0]))


def test_pack_groups_consecutive_jobs_of_a_view_into_one_segment() -> None:
    jobs = [_unit_job("positive", 0), _unit_job("positive", 3), _unit_job("positive", 1)]
    packed = pack(jobs, 0.0, 0.0)
    assert_close(packed.objective(_pack_acts(3)), torch.tensor([1.0, 4.0, 2.0]))
    assert packed.objective.description.count("channel(conv, [0, 3, 1])") == 1


def test_pack_diversity_groups_per_job() -> None:
    jobs = [_unit_job("diversity", 0, n=2, diversity_weight=0.5, diversity_keep=0.0),
            _unit_job("diversity", 1, n=2, diversity_weight=0.5, diversity_keep=0.0)]
    acts = _pack_acts(4)
    # images 1 and 2 differ in style, so a group of 4 would not score -1; each
    # job's pair is identical within itself, so per-job groups do
    acts["conv"][2:, 0] = 0.0
    scores = pack(jobs, 0.0, 0.0).objective(acts)
    # target + weight * |target| * (-1): unit 0 -> 1 - 0.5, unit 1 -> 2 - 1
    assert_close(scores, torch.tensor([0.5, 0.5, 1.0, 1.0]))


def test_pack_regularizers_apply_to_every_image() -> None:
    jobs = [_unit_job("positive", 0), _unit_job("negative", 1)]
    acts = _pack_acts(2)
    acts[INPUT] = torch.ones(2, 3, 4, 4)  # l2 = 0.25, tv = 0
    assert_close(pack(jobs, 0.0, 2.0).objective(acts), torch.tensor([1.0 - 0.5, -2.0 - 0.5]))
    acts[INPUT][:, :, :, 2:] = 0.0  # one vertical edge: tv = 4 / 12
    tv = 1.0 / 3.0
    assert_close(pack(jobs, 3.0, 0.0).objective(acts), torch.tensor([1.0 - 3 * tv, -2.0 - 3 * tv]))
    assert_close(pack(jobs, 3.0, 0.0).measure(acts), torch.tensor([1.0, 2.0]))


def test_pack_rejects_views_that_are_not_optimized() -> None:
    with pytest.raises(ValueError, match="'kernel'"):
        pack([_unit_job("kernel", 0)], 0.0, 0.0)


# Keys of results stored before views were declared in one place (conv1 unit 0 of the
# default model at 28 px, 8 steps, fp32, png): the declarations must keep them. The
# diversity view's key changed on purpose when its images started keeping the unit
# firing (`diversity_keep`): it was 25845562a7365504.
WEIGHTS_SHA256 = "643e7bb9ab99222cfd99e2f3a3e4d41a8d41af70047782c1e55fd0548ce0d46c"
STANDARD_TRANSFORMS_28 = "pad 3, jitter 2, scale 0.9–1.1, rotate ±10°, jitter 1, fit 28"
STORED_KEYS = {"positive": "3c2e4a5a30ad4be9", "negative": "01846f9d7d8cbffe",
               "diversity": "22a0788d4c5a07e7", "neuron": "4c62cb48111d9a0b",
               "seeds": "0e6f4fa8802dd072"}


def test_stored_results_keep_their_keys() -> None:
    # The settings these results were made with (before the small-image defaults
    # became pixel at lr 0.12 and the diversity push changed): named explicitly, they
    # keep their keys.
    config = BuildConfig(steps=8, param="fourier", lr=0.05, diversity_keep=0.9,
                         diversity_weight=4.0, diversity_window=[0.0, 1.0])
    common = job_plan.common_settings(config, "colored-digits", WEIGHTS_SHA256, 28,
                                  STANDARD_TRANSFORMS_28)
    common["atlas"] = "0.1.0"
    jobs = job_plan.unit_jobs(config, common, LayerInfo("conv1", "Conv2d", (8, 28, 28)), 0)
    assert {job.view: job.key for job in jobs} == STORED_KEYS
