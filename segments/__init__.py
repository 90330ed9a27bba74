"""Segments: smart (rule-based) and manual groups of members (docs/rules.md)."""
