"""The one exception type the CLI turns into a one-line message."""


class UserError(Exception):
    """Bad input from the user (config, CLI argument, missing data).

    The CLI prints ``sharegrad: error: <message>`` and exits with status 2,
    without a traceback: the message must name the problem and, where it can,
    the fix.
    """
