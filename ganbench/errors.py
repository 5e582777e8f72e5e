"""Errors a user can cause: the CLI prints their message on one line and exits with code 2."""


class UserError(Exception):
    """A mistake in the user's input (bad path, unknown name, corrupt file, wrong shape)."""
