"""amal-tui's exit statuses, one table for the command line, the headless runner and the app."""

EXIT_OK = 0
EXIT_ERROR = 1
"""A failed check, a failed save, Functions that raised, an unexpected error."""
EXIT_USAGE = 2
"""Bad input: an argument, a data file."""
EXIT_DIVERGED = 3
EXIT_TERMINAL_LOST = 129  # 128 + SIGHUP
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell shows for a program killed by it
