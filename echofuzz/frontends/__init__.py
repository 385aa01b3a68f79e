"""The command line and the pytest plugin, both built from ``echofuzz.options``."""
