"""One screen per module: an area's root list, its detail screens, and the modals."""
