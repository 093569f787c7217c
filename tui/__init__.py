"""amal-tui's terminal app (Textual).  Importing this package imports nothing heavy."""
