"""The one error type a bad setup raises, so the command line can print it without a traceback."""


class SetupError(RuntimeError):
    """The server cannot start as configured; the message says how to fix it."""
