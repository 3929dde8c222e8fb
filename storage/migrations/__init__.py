"""Alembic migrations, shipped inside the package so an installed bot can migrate itself."""
