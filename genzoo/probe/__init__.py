"""Look at and into trained runs: adversarial attacks on classifiers (`genzoo attack`) and feature
visualization of classifiers, discriminators and generators (`genzoo viz`, `genzoo list-layers`).

The algorithms live below, in `genzoo.attacks` and `genzoo.visualize` (pure functions of a network); this
package turns a run folder into what they need, runs them on the run's data and writes figures, grids and
plots into the run folder.
"""
