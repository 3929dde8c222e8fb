"""The respondent's conversation: screens, callback data and the survey service."""
