"""Tests of the community membership history."""
