"""Figures of the book: one theme (:mod:`~entres.plots.theme`), shared plots (:mod:`~entres.plots.common`),
and one module per claim page where a page needs figures of its own."""
from .common import (depth_scaling, inverse_sigma_by_block, measure_distributions, overlap_heatmaps,  # noqa: F401
                     per_block, singular_spectra, step_profile, trajectories)
from .theme import glue_figure, use_theme  # noqa: F401
