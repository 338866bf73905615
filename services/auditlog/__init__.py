"""The activity log: every run and every per-record outcome, from every event topic."""
