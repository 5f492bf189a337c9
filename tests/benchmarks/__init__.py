"""Benchmarks of lstflow side by side with lstmcpipe 0.11.5 (``make bench``); no timing asserted."""
