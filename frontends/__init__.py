"""What enqueues: the command line, the Python API, batch file readers, web-order adapters."""
