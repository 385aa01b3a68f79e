"""pytest plugin for echofuzz (registered through the ``pytest11`` entry point)."""
