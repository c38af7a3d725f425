"""Record and usage aggregations into daily per-community documents."""
