"""A consuming service's own replica of every tenant's sync settings, fed by `psync.settings.v1`."""
