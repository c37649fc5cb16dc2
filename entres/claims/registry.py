"""The claims of SPEC §2: IDs, paraphrased statements, and the page that tests each."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    source: str
    notebook: str | None = None  # book/<notebook>.ipynb, once it exists


CLAIMS = {c.id: c for c in [
    Claim("ERM-1", "Entangled sparse skip mappings improve generalisation of CNNs over identity skips", "ERM",
          "erm_cnn"),
    Claim("ERM-2", "Entangled sparse skip mappings improve generalisation of Vision Transformers", "ERM",
          "erm_vit"),
    Claim("ERM-3", "Orthogonal skip mappings hurt CNNs and Vision Transformers", "ERM", "erm_cnn"),
    Claim("ERM-4", "In RNNs, orthogonal residual mappings favour time-variant over time-invariant tasks", "ERM",
          "erm4_rnn"),
    Claim("ERM-5", "Entangled mappings can preserve iterative feature refinement", "ERM", "erm5_refinement"),
    Claim("RA-1", "Intermediate representations of an input lie equispaced on a line", "RA", "ra1_line"),
    Claim("RA-2", "Top singular vectors of residual Jacobians align within blocks and across depth", "RA",
          "ra2_alignment"),
    Claim("RA-3", "Residual Jacobians of fully-connected ResNets have rank at most C", "RA", "ra3_rank"),
    Claim("RA-4", "Top singular values of residual Jacobians scale inversely with depth", "RA", "ra4_depth"),
    Claim("RA-5", "Residual Alignment disappears when skip connections are removed", "RA", "ra5_no_skip"),
    Claim("RA-6", "Residual Alignment occurs in models that generalise", "RA", "ra6_generalisation"),
    Claim("RA-7", "The last layer undergoes Neural Collapse", "RA", "ra7_collapse"),
    Claim("X-1", "(ours) Does Residual Alignment survive entangled skips?", "both", "x1_entangled_ra"),
]}
