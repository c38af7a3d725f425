"""The dashboard pages (UI app): a community's statistics and the whole site's."""
