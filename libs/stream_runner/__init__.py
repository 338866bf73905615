"""The stream runner: consume, decode, dispatch, produce, commit after effects, dead-letter."""
