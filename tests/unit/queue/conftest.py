"""Fixtures for the queue unit tests (tests/unit/queue).

No ``__init__.py`` in this folder on purpose: it would make ``tests/unit/queue`` the
top-level package ``queue`` and shadow the standard library module of that name.
"""
