"""What a run leaves behind: the report, the printed summary, the HTML page, the script."""
