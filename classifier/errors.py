"""Errors raised while classifying; the CLI prints them as one line."""


class ClassifierError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1


class CodebookError(ClassifierError):
    """The codebook file is missing or malformed (message names file and line)."""


class ModelError(ClassifierError):
    """The model is missing, altered, or cannot be loaded offline."""


class LabelError(ClassifierError):
    """A label names an unknown category or reply, or a labels file is malformed."""
