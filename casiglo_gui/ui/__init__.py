"""Qt widgets only: they draw state from the core and forward user actions to it."""
