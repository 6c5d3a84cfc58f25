"""Ready-made jobs: used by ``queued-jobs demo`` and the sample Function App, and small
enough to read as examples."""

from .zip_builder import ZipRequest, ZipResult, owner_folder, zip_builder

__all__ = ["ZipRequest", "ZipResult", "owner_folder", "zip_builder"]
