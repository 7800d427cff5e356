"""The one exception type that reaches the user as a one-line message."""


class AtlasError(Exception):
    """A problem with the user's input: the CLI prints it in one line and exits 2.

    The message says what is wrong and what to do about it.
    """
