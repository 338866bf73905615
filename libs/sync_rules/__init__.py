"""sync_rules."""
