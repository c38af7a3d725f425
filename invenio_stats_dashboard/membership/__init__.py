"""Community membership history: live tracking, backfill, status."""
