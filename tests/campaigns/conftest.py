"""The end-to-end fixtures (the real bot against the Bot API emulator) for the campaign
tests here too."""

from tests.e2e.conftest import start_offline

__all__ = ["start_offline"]
