"""Build voc07_train.json and voc07_val.json from the official VOC 2007 XML annotations.

    python -m data_scripts.build_voc_json VOC2007_DIR --out DIR

``VOC2007_DIR`` is the ``VOCdevkit/VOC2007`` directory extracted from
VOCtrainval_06-Nov-2007.tar. Each output file is a JSON list, one image per
line, sorted by image id::

    [
    ["VOCdevkit/VOC2007/JPEGImages/000005.jpg", [{"xyxy": [262.0, 210.0, 324.0, 339.0], "name": "chair"}]],
    ...
    ]

Image paths are relative to the dataset directory (the one that holds
``VOCdevkit/``), whatever ``VOC2007_DIR`` was given; they have no ``./here/``
prefix. Boxes keep their order in the XML file.

Selection:

* Images: the ids listed in ``ImageSets/Main/{train,val}.txt``.
* Boxes: objects marked ``<difficult>1</difficult>`` are dropped, as in the
  course's "no difficult boxes" set; a missing tag counts as 0. Truncated and
  occluded objects are kept (they are ordinary VOC training boxes).
* Images left with no box are dropped: the course dataset class cannot hold an
  image without boxes. The command prints how many.

Coordinates: VOC XML stores 1-based, inclusive pixel indices, so xmin=1,
xmax=W spans a whole row of a W-pixel image. We emit continuous pixel-edge
coordinates ``[xmin - 1, ymin - 1, xmax, ymax]`` as floats rounded to
``COORDINATE_DECIMALS``: the whole image is ``[0, 0, W, H]``, pixels
``x1 <= x < x2`` are covered, and ``x2 - x1`` is the width in pixels. This is
detectron2's VOC convention and matches the synthetic dataset.

About the published files (https://web.eecs.umich.edu/~justincj/data/), which
cannot be downloaded here:

* Known, from the seed course code: entries are
  ``[path, [{"xyxy": [...], "name": cls}, ...]]``; paths start with
  ``./here/VOCdevkit/VOC2007/JPEGImages/``, which the dataset class strips;
  the class divides boxes by the image size and pads to 40 boxes per image;
  the seed notebook reports 2501 train and 2510 val images, exactly the sizes
  of VOC 2007's train.txt and val.txt.
* Assumed: the published boxes use the same 0-based edges. The ``xyxy`` key
  and ``./here/`` prefix suggest a detectron2 export, whose VOC loader
  subtracts 1 from xmin and ymin. Were they 1-based, x1 and y1 would differ by
  one pixel (0.2% of a 500-pixel VOC image).
* Open: whether any image in those splits has only difficult boxes. If one
  does, the published files must have kept it (the counts are the full
  splits) and this builder drops it; the printed counts settle it on the real
  data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import NamedTuple, Optional, Sequence

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
    "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
SPLITS = ("train", "val")
IMAGE_PATH_PREFIX = "VOCdevkit/VOC2007/JPEGImages/"
IMAGE_SUFFIX = ".jpg"
COORDINATE_DECIMALS = 2
MAX_BOXES_PER_IMAGE = 40  # The course dataset class pads every image to this many boxes.
BOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")


class VOCAnnotationError(ValueError):
    """The VOC directory or one of its annotation files is not as expected."""


class VocObject(NamedTuple):
    """One annotated object, its box already in the emitted coordinates."""

    name: str
    xyxy: tuple[float, float, float, float]
    difficult: bool


class SplitSummary(NamedTuple):
    """What building one split kept and dropped."""

    images_listed: int
    images_kept: int
    boxes_kept: int
    difficult_boxes_dropped: int
    images_over_box_limit: int


def annotation_filename(split: str) -> str:
    return f"voc07_{split}.json"


def read_split_ids(voc_dir: Path, split: str) -> list[str]:
    """Sorted image ids of ``ImageSets/Main/<split>.txt``."""
    path = voc_dir / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        raise VOCAnnotationError(
            f"{path} not found: {voc_dir} should be the VOCdevkit/VOC2007 directory extracted from "
            f"VOCtrainval_06-Nov-2007.tar (python -m data_scripts.download_voc DIR fetches it)."
        )
    return sorted({line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()})


def parse_annotation(xml_path: Path) -> list[VocObject]:
    """All objects of one VOC XML file, in file order.

    Raises:
        VOCAnnotationError: Missing file, unknown class, or a malformed box;
            the message names the file.
    """
    try:
        root = ElementTree.parse(xml_path).getroot()
    except FileNotFoundError as error:
        raise VOCAnnotationError(
            f"{xml_path} not found; every id in ImageSets/Main needs an annotation."
        ) from error
    except ElementTree.ParseError as error:
        raise VOCAnnotationError(f"{xml_path} is not well-formed XML: {error}") from error

    objects = []
    for index, node in enumerate(root.findall("object")):
        where = f"{xml_path}, object {index}"
        name = (node.findtext("name") or "").strip()
        if name not in VOC_CLASSES:
            raise VOCAnnotationError(
                f"{where}: unknown class {name!r}; VOC 2007 classes are {', '.join(VOC_CLASSES)}."
            )
        xyxy = _parse_box(node.find("bndbox"), where)
        difficult = (node.findtext("difficult") or "0").strip() == "1"
        objects.append(VocObject(name, xyxy, difficult))
    return objects


def _parse_box(bndbox: Optional[ElementTree.Element], where: str) -> tuple[float, float, float, float]:
    """VOC's 1-based inclusive ``bndbox`` as pixel-edge ``(x1, y1, x2, y2)``."""
    if bndbox is None:
        raise VOCAnnotationError(f"{where}: no <bndbox>.")
    try:
        xmin, ymin, xmax, ymax = (float(bndbox.findtext(field) or "") for field in BOX_FIELDS)
    except ValueError as error:
        raise VOCAnnotationError(
            f"{where}: <bndbox> needs numeric {', '.join(BOX_FIELDS)} ({error})."
        ) from error
    if not (1 <= xmin <= xmax and 1 <= ymin <= ymax):
        raise VOCAnnotationError(
            f"{where}: box xmin={xmin:g} ymin={ymin:g} xmax={xmax:g} ymax={ymax:g} "
            "is not 1-based with min <= max."
        )
    return tuple(round(value, COORDINATE_DECIMALS) for value in (xmin - 1, ymin - 1, xmax, ymax))


def build_split(voc_dir: Path, split: str) -> tuple[list, SplitSummary]:
    """The JSON entries of one split and a summary of what was kept."""
    entries = []
    boxes_kept = difficult_dropped = over_limit = 0
    image_ids = read_split_ids(voc_dir, split)
    for image_id in image_ids:
        objects = parse_annotation(voc_dir / "Annotations" / f"{image_id}.xml")
        boxes = [{"xyxy": list(obj.xyxy), "name": obj.name} for obj in objects if not obj.difficult]
        difficult_dropped += len(objects) - len(boxes)
        if not boxes:
            continue
        boxes_kept += len(boxes)
        over_limit += len(boxes) > MAX_BOXES_PER_IMAGE
        entries.append([IMAGE_PATH_PREFIX + image_id + IMAGE_SUFFIX, boxes])
    summary = SplitSummary(len(image_ids), len(entries), boxes_kept, difficult_dropped, over_limit)
    return entries, summary


def write_entries(entries: list, path: Path) -> None:
    """Write ``entries`` as a JSON list, one entry per line, atomically."""
    lines = ",\n".join(json.dumps(entry, ensure_ascii=True) for entry in entries)
    text = f"[\n{lines}\n]\n" if entries else "[]\n"
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_scripts.build_voc_json",
        description="Build voc07_train.json and voc07_val.json from VOC 2007 XML annotations.",
    )
    parser.add_argument(
        "voc_dir", metavar="VOC2007_DIR", type=Path, help="the extracted VOCdevkit/VOC2007 directory"
    )
    parser.add_argument(
        "--out", metavar="DIR", type=Path, required=True, help="where to write the JSON files"
    )
    args = parser.parse_args(argv)

    try:
        built = {split: build_split(args.voc_dir, split) for split in SPLITS}  # Validate all before writing.
    except VOCAnnotationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for split, (entries, summary) in built.items():
        path = args.out / annotation_filename(split)
        write_entries(entries, path)
        print(
            f"{path}: {summary.images_kept} of {summary.images_listed} images "
            f"({summary.images_listed - summary.images_kept} dropped: no box that is not difficult), "
            f"{summary.boxes_kept} boxes, {summary.difficult_boxes_dropped} difficult boxes dropped."
        )
        if summary.images_over_box_limit:
            print(
                f"warning: {summary.images_over_box_limit} {split} images have more than "
                f"{MAX_BOXES_PER_IMAGE} boxes, the most the course dataset class pads to."
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
