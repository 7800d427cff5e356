"""The batch pipeline: plan unit-views, optimize them in packed batches, store
them, analyse them, and hand the manifest to the site renderer."""
