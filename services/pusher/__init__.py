"""The pusher: the only writer to Pipedrive (auto-push and manual push)."""
