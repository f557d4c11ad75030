"""The outside world behind small protocols: directories, code delivery, audit."""
