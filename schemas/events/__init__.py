"""Payload models of every event type, one module per topic family."""
