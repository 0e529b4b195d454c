"""The smoothing toolbox (filled in by the toolbox issue)."""

__all__: list[str] = []
