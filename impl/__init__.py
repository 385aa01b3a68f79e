"""Reference implementations of every construct in the article, and its sequel."""
