"""Tools for studying what a model learned: ``analysis`` (each word's sentiment, PCA, how the words
moved between snapshots), ``explorer`` (the self-contained page where the words move epoch by
epoch) and ``plotting`` (training curves and the dynamics figures)."""
