"""`msgld demo`: the toolkit's three tasks on a song the model never saw, as one HTML page."""
