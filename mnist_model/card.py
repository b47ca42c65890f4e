"""The model card (README.md) and confusion-matrix picture written next to the weights.

The card's YAML front matter carries a `model-index` block with the measured test accuracy
(`ModelCardData(eval_results=...)`), so the Hub shows the number on the model page.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from PIL import Image, ImageDraw

CONFUSION_MATRIX_FILE = "confusion_matrix.png"

_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

A small convolutional network that reads handwritten and printed digits and refuses what is
not a digit, trained with `train.py` of the project this card was written by on MNIST, MNIST's
digits through other media (low-resolution scans, blur, JPEG, pencil, thick, thin and broken
strokes, lit paper), digits typed in print and handwriting faces, and synthetic non-digits
(letters, symbols, shapes, scribbles, words, smudges, shadows on empty paper). Input: a float
tensor (N, 1, 28, 28) in [0, 1], white ink on black, centred by centre of mass the way MNIST
was made; the model normalises it itself. Output: {{ classes }}
logits{{ classes_note }}.

## Results

| | |
| --- | --- |
| test accuracy (MNIST test set, {{ test_images }} images) | **{{ test_accuracy }}** |
| validation accuracy ({{ validation_images }} images carved out of the training set) | {{ validation_accuracy }} |
| MNIST test digits refused as "not a digit" (counted as errors above) | {{ test_refused }} |
| validation, fonts never trained on: printed digits read right / non-digits refused | {{ printed }} / {{ not_digits }} |
| validation, MNIST digits through the training media / a medium never trained on: read right | {{ media }} / {{ held_out_media }} |
| refusal bias (taken off the "not a digit" logit, chosen on styles and media never trained on) | {{ refusal_bias }} |
| architecture | `{{ arch }}`, an ensemble of {{ members }} (their mean), {{ parameters }} parameters |
| training | {{ epochs }} epochs, {{ training_seconds }} s, {{ images_per_second }} images/s |
| device | {{ device_name }} (torch {{ torch_version }}) |
| code | commit `{{ git_commit }}`, {{ date }} |

The number is the model after the last epoch of a fixed schedule: the test set chose nothing.

![Confusion matrix on the MNIST test set](confusion_matrix.png)

## Use

```python
from mnist_model import load_model  # safetensors only, every file checked

model = load_model("{{ repo_id }}").model  # pin a commit with "{{ repo_id }}@COMMIT"
```

## Data

MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0).
"""


def _percent(value: float) -> str:
    return f"{value:.2%}"


def _media(metrics: dict, name: str) -> str:
    result = (metrics.get("media_validation") or {}).get(name)
    return _percent(result["accuracy"]) if result else "not measured"


def write_model_card(folder: Path, metrics: dict, repo_id: str | None = None) -> None:
    """Write README.md and the confusion-matrix picture for the model described by `metrics`."""
    accuracy = float(metrics["test_accuracy"])
    synthetic = metrics.get("synthetic_validation")
    card_data = ModelCardData(
        license="mit",
        library_name="pytorch",
        pipeline_tag="image-classification",
        tags=["mnist", "image-classification", "pytorch_model_hub_mixin"],
        datasets=["ylecun/mnist"],
        metrics=["accuracy"],
        model_name=f"MNIST DigitNet ({metrics['arch']})",
        eval_results=[
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type="ylecun/mnist",
                dataset_name="MNIST",
                dataset_split="test",
                metric_type="accuracy",
                metric_name="Test accuracy",
                metric_value=round(accuracy, 4),
            )
        ],
    )
    card = ModelCard.from_template(
        card_data,
        template_str=_TEMPLATE,
        model_name=card_data.model_name,
        repo_id=repo_id or "OWNER/NAME",
        test_accuracy=_percent(accuracy),
        validation_accuracy=_percent(float(metrics["validation_accuracy"])),
        classes=len(metrics["test_confusion_matrix"][0]),
        classes_note=": the digits 0-9, then \"not a digit\"" if len(metrics["test_confusion_matrix"][0]) > 10 else "",
        test_refused=_percent(float(metrics.get("test_refused", 0.0))),
        printed=_percent(synthetic["printed_digits_accuracy"]) if synthetic else "not measured",
        not_digits=_percent(synthetic["not_digits_refused"]) if synthetic else "not measured",
        media=_media(metrics, "media"),
        held_out_media=_media(metrics, "held_out_media"),
        refusal_bias=metrics.get("refusal_bias", 0.0),
        **{
            key: metrics.get(key)
            for key in (
                "test_images", "validation_images", "arch", "members", "parameters", "epochs", "training_seconds",
                "images_per_second", "device_name", "torch_version", "git_commit", "date",
            )
        },
    )
    card.save(folder / "README.md")
    confusion_matrix_image(metrics["test_confusion_matrix"]).save(folder / CONFUSION_MATRIX_FILE)


def confusion_matrix_image(confusion: list[list[int]], cell: int = 44) -> Image.Image:
    """Draw the test set's confusion matrix (rows: true digit; columns: the answer, a digit or "not
    a digit" as "?") as a PNG-ready image.

    Drawn with PIL alone so that training needs no plotting library. Off-diagonal cells are
    shaded by count relative to the largest error, so the few mistakes stay visible.
    """
    margin = cell
    columns = len(confusion[0])
    size = margin + 10 * cell
    image = Image.new("RGB", (margin + columns * cell, size + cell // 2), "white")
    draw = ImageDraw.Draw(image)
    largest_error = max(
        [confusion[t][p] for t in range(10) for p in range(columns) if t != p] + [1]
    )
    for predicted in range(10, columns):
        draw.text((margin + predicted * cell + cell / 2, margin / 2), "?", fill="black", anchor="mm")
    for true in range(10):
        for predicted in range(columns):
            count = confusion[true][predicted]
            x, y = margin + predicted * cell, margin + true * cell
            if true == predicted:
                fill, ink = (40, 110, 60), "white"
            else:
                shade = int(255 * (1 - min(count / largest_error, 1.0) * 0.85))
                fill, ink = (255, shade, shade), "black"
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=fill, outline="white")
            if count:
                draw.text((x + cell / 2, y + cell / 2), str(count), fill=ink, anchor="mm")
        draw.text((margin / 2, margin + true * cell + cell / 2), str(true), fill="black", anchor="mm")
        draw.text((margin + true * cell + cell / 2, margin / 2), str(true), fill="black", anchor="mm")
    draw.text((image.width / 2, size + cell / 4), "answer (columns, ? = not a digit) / true digit (rows)",
              fill="black", anchor="mm")
    return image
