"""Data-quality checks and the run report. Import the modules directly: this package imports nothing
itself, so `import synthgen` stays fast and numpy, rensa and py3langid load only when a check is used.
"""
