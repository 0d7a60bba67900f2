"""Fake platform HTTP servers on 127.0.0.1, for running the real client libraries in tests."""
