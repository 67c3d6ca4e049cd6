"""Harvesting question threads from X, Bluesky, Mastodon, Reddit, YouTube and Threads into the database."""
