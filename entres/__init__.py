"""entres: executable claims about skip connections (Entangled Residual Mappings, Residual Alignment)."""
__version__ = "0.1.0"
