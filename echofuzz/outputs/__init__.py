"""What a run leaves behind: the report, the printed summary, the reproduction script."""
