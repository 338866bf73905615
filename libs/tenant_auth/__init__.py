"""Tenants and their API keys: created by an admin command, stored only as hashes, checked by every API."""
