"""Classifying replies against a codebook (filled by the classify issue)."""
