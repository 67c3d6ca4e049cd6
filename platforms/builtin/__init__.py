"""The six platforms built into replies, each declared in its own module and registered in pyproject.toml's
`replies.platforms` entry points, as a plugin's would be."""
