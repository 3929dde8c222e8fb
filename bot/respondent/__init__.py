"""The survey service, and the Telegram callback data of the cadre's buttons."""
