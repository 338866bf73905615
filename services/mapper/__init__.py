"""The mapper: applies Pipedrive changes to the ABM store under the shared rule book."""
