"""Keeping a build safe: one build per folder, Ctrl-C between batches, and a site
put in place without ever breaking the old one."""
