"""Flags a unit earns from the data: where its pictures cannot be taken at face value.

- `lost_to_data`: the optimizer lost to the data. The positive visualization's value
  (its extreme over positions, as for dataset images) is below the unit's largest value
  over the dataset, so some real image excites the unit more than the picture made
  for it; the top dataset example shows the unit better.
- `never_fires`: on a layer clamped at a floor (a ReLU), the unit stays at or below the
  floor on every dataset image: its output is the floor everywhere, and its pictures
  show what would switch it on, not anything the data does.

The analysis writes each unit's flags (in the order of manifest_types.UNIT_FLAGS); pages
say what they mean.
"""

from __future__ import annotations

from atlas.manifest_types import LOST_TO_DATA, NEVER_FIRES


def unit_flags(positive_value: float | None, data_max: float,
               floor: float | None) -> list[str]:
    """The flags of a unit whose positive visualization reached `positive_value` (None:
    no positive view) and whose largest value over the dataset is `data_max`, on a layer
    clamped at `floor` (None: no clamp)."""
    flags = []
    if positive_value is not None and positive_value < data_max:
        flags.append(LOST_TO_DATA)
    if floor is not None and data_max <= floor:
        flags.append(NEVER_FIRES)
    return flags
