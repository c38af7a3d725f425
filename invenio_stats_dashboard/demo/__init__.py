"""Build small InvenioRDM sites through the real services (tests, demo, benchmarks)."""
