"""The streaming monitor (Faust): join, metrics, drift, weakness profiles, router, analytics sink."""
