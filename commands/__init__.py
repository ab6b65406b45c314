"""Command-line sub-commands of `python app.py` that do not need the web app."""
