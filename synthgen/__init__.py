"""synthgen: synthetic training data for text-embedding models (E5-mistral recipe)."""

__version__ = "0.1.0"
