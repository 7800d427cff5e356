"""The static site: turns the manifest (atlas.json) into HTML pages.

Data flows one way: `views`, `unit_view` and `summary_view` turn the manifest
into per-page view models (all links resolved, all numbers formatted),
`render` fills the templates with them, and `render_site` alone writes files.
"""

from atlas.site.links import relative_link
from atlas.site.render import render_site

__all__ = ["relative_link", "render_site"]
