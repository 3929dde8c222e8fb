"""Export tests use the digest tests' fixtures: fresh keys, the shipped questionnaire, and a
migrated database on SQLite and PostgreSQL."""

from tests.digest.conftest import cipher, database, questionnaire

__all__ = ["cipher", "database", "questionnaire"]
