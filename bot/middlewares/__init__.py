"""aiogram middlewares: per-chat ordering, locale, and Telegram pushback handling."""
