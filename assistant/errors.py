"""Errors a user can act on: shown as one line, never as a traceback."""


class UserError(Exception):
    """Bad input or set-up the user can fix (empty question, missing corpus, ...)."""


class StoreUnavailable(UserError):
    """The vector store cannot be reached; retrying later may work."""


class GenerationGone(Exception):
    """The index generation being read was dropped (another process switched generations): re-read
    the active one. Internal: the retriever handles it, users never see it."""


UNAVAILABLE = "The document store is temporarily unavailable, try again in a minute."
FAILED = "Something went wrong while answering (it has been logged); please try again."


def user_message(exc: BaseException) -> str:
    """What every face (web, Slack, HTTP) tells a user about a failure; details go to the log only."""
    if isinstance(exc, StoreUnavailable):
        return UNAVAILABLE
    if isinstance(exc, UserError):
        text = str(exc)
        return text[:1].upper() + text[1:]
    return FAILED
