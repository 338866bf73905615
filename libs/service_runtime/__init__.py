"""What every service process needs around its work: logging, health/metrics HTTP, signal handling."""
