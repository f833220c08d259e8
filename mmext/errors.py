"""The error type for input the user has to fix.

Command-line tools wrapped in :func:`mmext.engine.cli_main` print such an error
as one ``error: ...`` line and exit with status 1, without a traceback. It lives
in this import-free module so that low-level code (checkpoint loading, file
readers, datasets) can raise it without importing the engine.
"""

__all__ = ['BadValueError', 'UserError']


class UserError(Exception):
    """Bad input (a file, a key, a value) with a message that names it.

    Subclasses may also derive from a built-in type (``ValueError``, ...) so
    that callers catching that type keep working.
    """


class BadValueError(UserError, ValueError):
    """A value in a config, a file or an argument that cannot be used (an
    unknown option name, an out-of-range index, a malformed record)."""
