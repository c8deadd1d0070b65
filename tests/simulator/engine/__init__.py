"""Tests of the call engine (issue 4)."""
