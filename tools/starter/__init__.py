"""The kit's own: make starter (a project of some patterns), make template (the composer), make test-starters."""
