"""stream_runner."""
