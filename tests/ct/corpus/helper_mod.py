"""Imported by uses_sibling.py from the script's own directory."""


def greet(name):
    return f"hi {name}"
