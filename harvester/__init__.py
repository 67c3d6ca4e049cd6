"""Harvesting question threads from X, Bluesky and Mastodon into the database."""

__version__ = "0.1.0"
