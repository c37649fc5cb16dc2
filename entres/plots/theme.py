"""One look for every figure of the book, and the way a figure reaches a page.

Pages make a figure with a function of :mod:`entres.plots`, then :func:`glue_figure` it; the page's Markdown
places it with a numbered, captioned ``{glue:figure}`` directive (with ``:alt:`` text saying what it shows).
"""
from __future__ import annotations

from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

PALETTE = "colorblind"
DPI = 160


def use_theme() -> None:
    """seaborn's whitegrid style with the colour-blind palette and crisp PNGs; also seeds NumPy's global
    generator, which seaborn's strip-plot jitter draws from, so a page re-executed from the same results
    draws the same figures byte for byte (pass ``seed=`` to seaborn's bootstrapped error bars too)."""
    import seaborn as sns

    np.random.seed(0)

    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook", font_scale=0.9)
    mpl.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "savefig.bbox": "tight",
                         "figure.autolayout": False, "axes.titleweight": "bold"})


def glue_figure(key: str, fig) -> None:
    """Glue ``fig`` under ``key`` for a ``{glue:figure}`` directive and close it (so it shows only there)."""
    from myst_nb import glue

    glue(key, fig, display=False)
    plt.close(fig)


@contextmanager
def fixed_jitter(seed: int = 0):
    """Seed NumPy's global generator (seaborn's strip-plot jitter) for one plot and restore it afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)
