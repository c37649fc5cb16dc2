"""One look for every figure of the book, and the way a figure reaches a page.

Pages make a figure with a function of :mod:`entres.plots`, then :func:`glue_figure` it; the page's Markdown
places it with a numbered, captioned ``{glue:figure}`` directive (with ``:alt:`` text saying what it shows).
"""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

PALETTE = "colorblind"
DPI = 160


def use_theme() -> None:
    """seaborn's whitegrid style with the colour-blind palette, crisp PNGs and SVG where the page asks."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook", font_scale=0.9)
    mpl.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI, "savefig.bbox": "tight",
                         "figure.autolayout": False, "axes.titleweight": "bold"})


def glue_figure(key: str, fig) -> None:
    """Glue ``fig`` under ``key`` for a ``{glue:figure}`` directive and close it (so it shows only there)."""
    from myst_nb import glue

    glue(key, fig, display=False)
    plt.close(fig)
