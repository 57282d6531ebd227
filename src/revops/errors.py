"""The one base for errors a user can act on.

Front ends catch `RevOpsError` and show its message (which names the file, row, field or key
at fault) as a single line; anything else is a bug and keeps its traceback.
"""


class RevOpsError(Exception):
    """A problem with the user's input, configuration or data, explained in the message."""
