"""Persistence: SQLAlchemy Core tables, Alembic migrations, repositories and FSM storage.

Everything that reaches the disk passes through here, so this is where the anonymity
contract (docs/ARCHITECTURE.md) is enforced for data at rest; docs/THREAT_MODEL.md says
what it protects and what it does not.
"""
