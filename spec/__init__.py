"""The executable specification: each claim quoted from its source, then the check."""
