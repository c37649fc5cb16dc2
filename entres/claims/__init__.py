"""Claims and their verdicts.

* :mod:`~entres.claims.registry`  the claims of SPEC §2 (``CLAIMS``);
* :mod:`~entres.claims.protocol`  verdict protocol v2: primary effects, nulls, δ, gates, fits, robustness;
* :mod:`~entres.claims.records`   filing verdict rows and reading them back (dashboard, ``entres claims``);
* one module per claim page (``ra1``, ``ra2``, …): the page's runs → tables → verdict rows → glued values.
"""
from .records import (ClaimsFileError, load_verdicts, provenance_stamp, record_verdict, stamp_text,  # noqa: F401
                      verdicts_text)
from .registry import CLAIMS, Claim  # noqa: F401
