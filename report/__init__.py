"""The HTML report and the summary counts behind it and `replies stats`."""
