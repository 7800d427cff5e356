"""What the pages say about the scanned dataset: the index page's line naming
it, and the notes that stand in for measurements a build without a dataset
could not make (each saying how to add one)."""

from __future__ import annotations

from typing import Any

from atlas.site import formatting as fmt

ADD_DATASET = "atlas build --dataset FOLDER"
"""The command that scans a dataset (a folder of images, class subfolders optional)."""

HOW = "Add a dataset with"

NO_DATASET = ("No dataset was scanned for this atlas, so its units have no dataset examples, "
              "spectrum, labels or faithfulness scores.")


def note(text: str, with_command: bool = True) -> dict[str, Any]:
    """A not-measured sentence; with the command that would measure it unless told otherwise."""
    return {"text": text, "how": HOW if with_command else "",
            "command": ADD_DATASET if with_command else None}


def has_dataset(manifest: dict[str, Any]) -> bool:
    return isinstance(manifest.get("dataset"), dict)


def dataset_line(manifest: dict[str, Any]) -> dict[str, Any]:
    """The index page's line: which dataset was scanned, how many images, which
    files were skipped (the first few); or, without one, how to add one."""
    dataset = manifest.get("dataset")
    if not isinstance(dataset, dict):
        return {"scanned": False, "note": note(NO_DATASET)}
    description = dataset.get("description") or dataset.get("spec") or fmt.MISSING
    images = dataset.get("images")
    skipped = dataset.get("skipped")
    sources = [str(s) for s in dataset.get("skipped_sources") or [] if s not in (None, "")]
    counts = f"{fmt.integer(images)} image{'' if images == 1 else 's'} scanned"
    unread = None
    if isinstance(skipped, int) and skipped > 0:
        unread = f"{fmt.integer(skipped)} file{' was' if skipped == 1 else 's were'} skipped " \
                 "(could not be read)"
    keys = [str(k) for k in dataset.get("label_keys") or []]
    return {
        "scanned": True,
        "description": description,
        "counts": counts,
        "skipped": unread,
        "skipped_sources": sources if unread else [],
        "skipped_more": unread is not None and isinstance(skipped, int)
        and skipped > len(sources) > 0,
        "labels": f"labelled by {' and '.join(keys)}" if keys else "no labels",
    }
