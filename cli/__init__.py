"""The `parley` command line: argument parsing, dispatch, and the admin commands."""
