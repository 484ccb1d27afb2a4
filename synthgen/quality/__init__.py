"""Data-quality gates: normalisation, near-duplicates, language identity."""
