"""Errors raised while classifying; the CLI prints them as one line."""

from replies.errors import RepliesError


class ClassifierError(RepliesError):
    """Base class: a problem the user can act on."""


class ModelError(ClassifierError):
    """The model is missing, altered, or cannot be loaded offline."""
