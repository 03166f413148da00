"""The catalog stage: settings.py (its defaults), stage.py (the function), cli.py (its command)."""
