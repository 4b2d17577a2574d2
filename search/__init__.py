"""Identifier normalization, similarity scoring and candidate retrieval keys.

Everything here is pure: no engine, no I/O. Every storage engine computes its
lookup keys and ranks its candidates with this code, which is why the embedded
default and Elasticsearch give the same answers.
"""
