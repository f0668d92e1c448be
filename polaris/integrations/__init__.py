"""Optional integrations (Dask, xarray). Each module imports its library only when used (``dask`` extra)."""
