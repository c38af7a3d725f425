"""The response cache of the statistics API (Redis, readable keys)."""
