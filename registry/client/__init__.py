"""The edzoo client: pull verified model variants, publish signed versions.

Imports ``registry.core`` only: no Flask, no SQLAlchemy, no TensorFlow.
"""

from .download import Puller, PullResult, pull, verify_cached
from .upload import PublishResult, publish

__all__ = ["PublishResult", "PullResult", "Puller", "publish", "pull", "verify_cached"]
