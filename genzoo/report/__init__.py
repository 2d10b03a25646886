"""Image grids, plots and reports."""
