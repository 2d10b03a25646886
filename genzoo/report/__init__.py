"""Views of runs for a person: reports, comparisons, plots.

- `page.write_report(RUN)`: RUN/report.html, one self-contained page (`genzoo report`);
- `watch.watch(RUN, seconds)`: rewrite it while the run trains (`genzoo report --watch`);
- `compare.write_compare([RUN, ...], out)`: runs side by side (`genzoo compare`);
- `rundata` reads a run folder for them, `floor` computes (and caches) the FID floor of a dataset,
  `plots` draws curves as SVG, `html` holds the page building blocks, `scatter` draws 2-D codes.

Nothing is imported here, so that `genzoo.report.scatter` does not pull in matplotlib.
"""
