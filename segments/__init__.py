"""Segments: smart (rule-based) and manual groups of members (DESIGN §6)."""
