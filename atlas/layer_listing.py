"""The text `atlas layers` prints: every visualizable layer, aligned and indented."""

from __future__ import annotations

from atlas.models.layers import DryRun
from atlas.models.registry import LoadedModel


def format_layers(loaded: LoadedModel, run: DryRun) -> list[str]:
    """Lines of a table: layer (indented by nesting depth), type, output shape,
    channels, and the branch split for concatenating layers."""
    rows = []
    for info in run.layers:
        depth = info.name.count(".")
        shape = "x".join(str(d) for d in info.shape)
        branches = loaded.branches(info.name)
        note = (" = " + " + ".join(f"{b['label']} {b['stop'] - b['start']}" for b in branches)
                if branches else "")
        rows.append(("  " * depth + info.name, info.type, shape, str(info.channels), note))
    defaults = loaded.defaults_from(run.layers)
    lines = [f"{loaded.spec} at {run.size}x{run.size}: {len(rows)} visualizable layers "
             f"(preprocess: {loaded.preprocess.description})",
             f"default layers: {', '.join(defaults)}", ""]
    headers = ("layer", "type", "output shape", "channels", "")
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(4)]
    for row in [headers, *rows]:
        lines.append("  ".join(
            [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
             row[3].rjust(widths[3])]) + row[4])
    if run.rejected:
        lines.append("")
        lines.append(f"not visualizable ({len(run.rejected)}): " + "; ".join(
            f"{name} {why}" for name, why in list(run.rejected.items())[:5])
            + ("; …" if len(run.rejected) > 5 else ""))
    if not run.ok:
        lines.append("")
        lines.append(f"at {run.size}x{run.size} the forward pass stops at {run.failed_at!r} "
                     f"({run.error}); layers after it are not listed. Try "
                     + (f"the model's own --image-size {loaded.input_size}."
                        if loaded.input_size and loaded.input_size != run.size
                        else "a larger --image-size."))
    return lines
