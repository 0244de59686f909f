"""A tiny research package: Monte Carlo estimates run as cluster jobs."""
