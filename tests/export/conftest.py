"""Export tests use the digest tests' fixtures: fresh keys, the questionnaire (version 1, as
the data set is; the shipped version 2 as `questionnaire_v2`), and a migrated database on
SQLite and PostgreSQL."""

from tests.digest.conftest import cipher, database, questionnaire, questionnaire_v2

__all__ = ["cipher", "database", "questionnaire", "questionnaire_v2"]
