"""Harvesting question threads from X, Bluesky and Mastodon into the database."""
