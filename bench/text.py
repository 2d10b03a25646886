"""The text <-> image round trip: a captioner reads a text-to-image model's samples back.

    python bench/text.py TEXT_GAN_RUN CAPTIONER_RUN [--n 2000] [--data-dir ../shared/data] [--seed 0]
                         [--unconditional RUN] [--figure PATH]

For the first `--n` test images of the text-gan run's dataset, one caption each (the first of its K), text-gan
draws a sample for the caption and the captioner (trained on the same captioned set) captions the sample;
`genzoo.models.captioner.round_trip` counts how often that caption names the text's class, how many of the
attribute words the text states it states alike, and how often it agrees on both. Two reference rows:

- ceiling: the real test image each caption was written for, captioned the same way (what a perfect text-to-image
  model would get, limited by the captioner's own errors);
- floor: the same samples paired with another image's text (the texts shifted by one): what agreement comes
  from chance and from the captions' frequencies alone;
- with `--unconditional RUN` (e.g. a dcgan trained on the captioned set's base images), a second floor: that
  model's samples, which ignore the text, captioned against the texts.

Each row also gives the class accuracy of the images by the domain classifier (the shipped MNIST / Fashion-MNIST
/ CIFAR-10 (JPEG copy) net), the text-gan evaluation's measure: how often it reads the class the text names.

Writes bench/results/text_round_trip.json and prints a table; `--figure PATH` draws the first 8 test images and
8 samples, each under the text it was made for (samples) and over the captioner's caption (docs/text-round-trip.png).
"""

from __future__ import annotations

import argparse
import json
import textwrap
import time
from pathlib import Path

import torch

import genzoo
from genzoo.data.imageset import to_uint8
from genzoo.data.text import decode
from genzoo.metrics import features
from genzoo.models.captioner import round_trip
from genzoo.runs import RunDir, load_model

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text_gan")
    p.add_argument("captioner")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure", help="a PNG of images with their texts and captions")
    p.add_argument("--unconditional", help="a run of an unconditional model on the same images: its samples, "
                                           "which ignore the texts, as a floor row")
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = p.parse_args()
    gan, cap = load_model(args.text_gan), load_model(args.captioner)
    data = RunDir(args.text_gan).read_config()["data"]["name"]
    test = genzoo.load_data(data, split="test", data_dir=args.data_dir).take(args.n)
    texts = [decode(c[0], test.vocab) for c in test.captions]
    t = time.perf_counter()
    with torch.no_grad():
        fake = gan.sample(len(texts), generator=torch.Generator().manual_seed(args.seed), text=texts)
    fake = to_uint8(fake, gan.input_range).cpu()
    sampled = time.perf_counter() - t
    net = features.resolve("auto", data)

    def row(images: torch.Tensor, shift: int = 0) -> dict:
        """The captioner's agreement of `images` with the texts (shifted by `shift`), and the domain classifier's
        accuracy on the classes those texts name."""
        paired_texts, labels = texts[shift:] + texts[:shift], torch.roll(test.labels, -shift)
        return {**round_trip(cap, images, paired_texts),
                "class_accuracy": features.judged_accuracy(net, images, labels)[0]}

    rows = {"text-gan samples": row(fake), "ceiling: real images": row(test.images),
            "floor: samples, shifted texts": row(fake, shift=1)}
    if args.unconditional:
        other = load_model(args.unconditional)
        with torch.no_grad():
            free = to_uint8(other.sample(len(texts), generator=torch.Generator().manual_seed(args.seed)),
                            other.input_range).cpu()
        rows[f"floor: {other.name} samples (unconditional)"] = row(free)
    print(f"\n{len(texts)} test captions of {data}; sampling took {sampled:.1f} s")
    print("| images | class accuracy (domain classifier) | caption's class agreement | attribute agreement | "
          "full agreement |\n|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['class_accuracy']:.3f} | {r['class_agreement']:.3f} | "
              f"{r.get('attribute_agreement', float('nan')):.3f} | {r.get('agreement', float('nan')):.3f} |")
    for text, c in list(zip(texts, rows["text-gan samples"]["captions"]))[:8]:
        print(f"  {text!r} -> sample captioned {c!r}")
    out = {"text_gan": args.text_gan, "captioner": args.captioner, "data": data, "n": len(texts),
           **{k: {m: v for m, v in r.items() if m != "captions"} for k, r in rows.items()}}
    if args.figure:
        figure(args.figure, test.images, fake, texts, rows)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "text_round_trip.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    if "text_gan" in results:  # the single-entry file of earlier versions
        results = {results["data"]: results}
    results[data] = out
    path.write_text(json.dumps(results, indent=1))


def figure(path: str, real: torch.Tensor, fake: torch.Tensor, texts: list[str], rows: dict, n: int = 8) -> None:
    """Two rows of n images: real test images over the captioner's caption of each, and text-gan's samples under
    the text that made them and over the captioner's caption of the sample."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, n, figsize=(2.1 * n, 5.2))
    for row, (images, key, label) in enumerate(((real, "ceiling: real images", "real test image"),
                                                (fake, "text-gan samples", "text-gan sample"))):
        for j, ax in enumerate(axes[row]):
            img = images[j].permute(1, 2, 0).squeeze(-1).numpy()
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(textwrap.fill(f"text: {texts[j]}", 30) if row else label, fontsize=7)
            ax.set_xlabel(textwrap.fill(f"caption: {rows[key]['captions'][j]}", 30), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
