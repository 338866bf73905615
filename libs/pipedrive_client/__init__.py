"""pipedrive_client."""
