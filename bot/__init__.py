"""The running service: composition root, channels, HTTP routes and the command line."""
