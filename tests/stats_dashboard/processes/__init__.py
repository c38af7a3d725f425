"""Tests of the background process manager."""
