"""Cloud Spanner as a target (``adapter.py``; types in ``types.py``, apply in ``applier.py``)."""
from targetsync_core.adapters.spanner.adapter import SpannerDatabase

__all__ = ["SpannerDatabase"]
