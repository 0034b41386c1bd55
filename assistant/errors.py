"""Errors a user can act on: shown as one line, never as a traceback."""


class UserError(Exception):
    """Bad input or set-up the user can fix (empty question, missing corpus, ...)."""


class StoreUnavailable(UserError):
    """The vector store cannot be reached; retrying later may work."""
