"""The lake fixtures of tests/lake (a private PostgreSQL), for the reliability tests."""

from tests.lake.conftest import lake_template, new_lake, postgres  # noqa: F401
