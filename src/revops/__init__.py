"""revops: a Revenue Operations engine."""

__version__ = "0.1.0"
