"""A student's own Functions: loading their file, running it in a child process, checking it."""
