"""Tests of llmport.compat."""
