"""pytest_clustrix: run a test suite's @cluster calls locally, on a simulator, or on a cluster."""
