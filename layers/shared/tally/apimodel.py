"""`ApiModel`, the base of every request and response model.

Its own module, apart from the event models of `tally.models`: a read handler
imports its response models without defining the event models only ingest uses.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    """Validators are built on first use, not at import: a handler's cold start builds
    none of the models it does not use."""

    model_config = ConfigDict(defer_build=True)
