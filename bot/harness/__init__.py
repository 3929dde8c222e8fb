"""The offline harness: the Bot API emulator, the bot run against it, simulated cadres and the
demo. Tests and `python -m bot demo` use it; nothing in the product imports it."""
