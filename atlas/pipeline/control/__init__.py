"""Keeping a build safe: only atlas's own files touched, one build per folder, Ctrl-C
between batches, and a site put in place without ever breaking the old one."""
