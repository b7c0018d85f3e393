"""Tests for data_scripts/build_voc_json.py on the hand-written XML in tests/fixtures/voc_xml.

Fixture contents (VOC's 1-based inclusive boxes):
    train.txt lists 000002, 000001, 000003 (unsorted on purpose); val.txt lists 000004.
    000001: car 1,1,500,375 (the whole 500x375 image); person 48,240,195,371, truncated, with a <part>.
    000002: dog 100,50,300,250; chair 10,10,40,60 difficult; bird 5,6,7,8 without a <difficult> tag.
    000003: bottle and pottedplant, both difficult.
    000004: tvmonitor 12.5,20,30.257,40 (fractional, to pin rounding).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` does not put the repository root on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from data_scripts import build_voc_json as builder  # noqa: E402

FIXTURE_VOC_DIR = REPO_ROOT / "tests" / "fixtures" / "voc_xml" / "VOC2007"

EXPECTED_TRAIN_JSON = """\
[
["VOCdevkit/VOC2007/JPEGImages/000001.jpg", [{"xyxy": [0.0, 0.0, 500.0, 375.0], "name": "car"}, \
{"xyxy": [47.0, 239.0, 195.0, 371.0], "name": "person"}]],
["VOCdevkit/VOC2007/JPEGImages/000002.jpg", [{"xyxy": [99.0, 49.0, 300.0, 250.0], "name": "dog"}, \
{"xyxy": [4.0, 5.0, 7.0, 8.0], "name": "bird"}]]
]
"""
EXPECTED_VAL_JSON = """\
[
["VOCdevkit/VOC2007/JPEGImages/000004.jpg", [{"xyxy": [11.5, 19.0, 30.26, 40.0], "name": "tvmonitor"}]]
]
"""


@pytest.fixture
def voc_dir(tmp_path) -> Path:
    """A writable copy of the fixture VOC2007 directory."""
    return Path(shutil.copytree(FIXTURE_VOC_DIR, tmp_path / "VOC2007"))


def _add_image(voc_dir: Path, image_id: str, objects_xml: str, split: str = "train") -> None:
    xml = f"<annotation><filename>{image_id}.jpg</filename>{objects_xml}</annotation>\n"
    (voc_dir / "Annotations" / f"{image_id}.xml").write_text(xml)
    with open(voc_dir / "ImageSets" / "Main" / f"{split}.txt", "a") as ids:
        ids.write(f"{image_id}\n")


def _object(name: str, box: str = "1 1 2 2") -> str:
    xmin, ymin, xmax, ymax = box.split()
    return (
        f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
        f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>"
    )


def test_cli_writes_both_splits_exactly(tmp_path, capsys):
    out_dir = tmp_path / "out"

    status = builder.main([str(FIXTURE_VOC_DIR), "--out", str(out_dir)])

    assert status == 0
    assert (out_dir / "voc07_train.json").read_text() == EXPECTED_TRAIN_JSON
    assert (out_dir / "voc07_val.json").read_text() == EXPECTED_VAL_JSON
    assert sorted(path.name for path in out_dir.iterdir()) == ["voc07_train.json", "voc07_val.json"]
    assert capsys.readouterr().out.splitlines() == [
        f"{out_dir / 'voc07_train.json'}: 2 of 3 images (1 dropped: no box that is not difficult), "
        "4 boxes, 3 difficult boxes dropped.",
        f"{out_dir / 'voc07_val.json'}: 1 of 1 images (0 dropped: no box that is not difficult), "
        "1 boxes, 0 difficult boxes dropped.",
    ]


def test_rebuilding_gives_identical_bytes(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    builder.main([str(FIXTURE_VOC_DIR), "--out", str(first)])
    builder.main([str(FIXTURE_VOC_DIR), "--out", str(second)])

    for name in ("voc07_train.json", "voc07_val.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_parse_annotation_keeps_difficult_flag_and_converts_to_pixel_edges():
    objects = builder.parse_annotation(FIXTURE_VOC_DIR / "Annotations" / "000002.xml")

    assert objects == [
        builder.VocObject("dog", (99.0, 49.0, 300.0, 250.0), difficult=False),
        builder.VocObject("chair", (9.0, 9.0, 40.0, 60.0), difficult=True),
        builder.VocObject("bird", (4.0, 5.0, 7.0, 8.0), difficult=False),
    ]


def test_build_split_summary_counts_what_was_dropped():
    entries, summary = builder.build_split(FIXTURE_VOC_DIR, "train")

    assert [path for path, _ in entries] == [
        "VOCdevkit/VOC2007/JPEGImages/000001.jpg",
        "VOCdevkit/VOC2007/JPEGImages/000002.jpg",
    ]
    assert summary == builder.SplitSummary(
        images_listed=3, images_kept=2, boxes_kept=4, difficult_boxes_dropped=3, images_over_box_limit=0
    )


def test_unknown_class_names_the_file_and_the_class(voc_dir, tmp_path, capsys):
    _add_image(voc_dir, "000005", _object("dog") + _object("unicorn"))

    status = builder.main([str(voc_dir), "--out", str(tmp_path / "out")])

    assert status == 1
    error = capsys.readouterr().err
    assert f"{voc_dir / 'Annotations' / '000005.xml'}, object 1: unknown class 'unicorn'" in error
    assert not (tmp_path / "out").exists()  # Nothing is written unless both splits build.


@pytest.mark.parametrize(
    "box, complaint",
    [
        ("10 10 5 20", "xmin=10 ymin=10 xmax=5 ymax=20 is not 1-based with min <= max"),
        ("0 10 5 20", "xmin=0 ymin=10 xmax=5 ymax=20 is not 1-based with min <= max"),
        ("1 1 two 2", "<bndbox> needs numeric xmin, ymin, xmax, ymax"),
    ],
)
def test_malformed_box_names_the_file_and_object(voc_dir, box, complaint):
    _add_image(voc_dir, "000005", _object("cat", box), split="val")

    with pytest.raises(builder.VOCAnnotationError) as caught:
        builder.build_split(voc_dir, "val")

    assert str(caught.value).startswith(f"{voc_dir / 'Annotations' / '000005.xml'}, object 0: ")
    assert complaint in str(caught.value)


def test_listed_image_without_annotation_is_reported(voc_dir):
    (voc_dir / "Annotations" / "000004.xml").unlink()

    with pytest.raises(builder.VOCAnnotationError, match=r"000004\.xml not found"):
        builder.build_split(voc_dir, "val")


def test_wrong_directory_explains_what_is_expected(tmp_path, capsys):
    status = builder.main([str(tmp_path), "--out", str(tmp_path / "out")])

    assert status == 1
    assert "should be the VOCdevkit/VOC2007 directory" in capsys.readouterr().err


def test_images_over_the_box_limit_are_counted_and_warned_about(voc_dir, tmp_path, capsys):
    _add_image(voc_dir, "000005", _object("person") * (builder.MAX_BOXES_PER_IMAGE + 1), split="val")

    builder.main([str(voc_dir), "--out", str(tmp_path / "out")])

    assert "warning: 1 val images have more than 40 boxes" in capsys.readouterr().out
