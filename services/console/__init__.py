"""The web console: pages for tenant admins, built only on the other services' HTTP APIs."""
