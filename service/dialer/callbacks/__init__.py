"""Signed status callbacks to client systems: outbox, dispatch, signing, endpoints, URL safety."""
