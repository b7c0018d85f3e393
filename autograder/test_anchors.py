"""Graded: `generate_fpn_anchors`, anchor boxes at every FPN location."""
import pytest
import torch

from autograder.units.cases import integer_shift
from autograder.units.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.units.judge import allclose, check_tensor, fail, rows_as_set_equal

RATIOS = [0.5, 1.0, 2.0]


def anchor_hints(inverted):
    def wrong_order(actual, expected):
        if rows_as_set_equal(actual, expected):
            return ("the anchors are right but in another order: row i * A + a must be anchor a "
                    "(ratio aspect_ratios[a]) of location i")
        return None

    def inverted_ratio(actual, expected):
        if rows_as_set_equal(actual, inverted):
            return "width and height are swapped: aspect ratio is height / width, so ratio 0.5 is a WIDE anchor"
        return None

    return (wrong_order, inverted_ratio)


def expected_and_inverted(reference, locations, strides, stride_scale, ratios):
    expected = reference.generate_fpn_anchors(locations, strides, stride_scale, ratios)
    inverted = reference.generate_fpn_anchors(locations, strides, stride_scale, [1 / r for r in ratios])
    return expected, inverted


@pytest.mark.points(2, tags=("generate_fpn_anchors",))
def test_anchors_of_the_p5_example(student, reference, case_rng):
    """generate_fpn_anchors: the notebook's P5 example (translated)"""
    locations = reference.get_fpn_location_coords({"p5": (2, 64, 2, 2)}, {"p5": 32})
    locations = {"p5": locations["p5"] + integer_shift(case_rng)}
    expected, inverted = expected_and_inverted(reference, locations, {"p5": 32}, 2, RATIOS)
    anchors = student("generate_fpn_anchors", locations, {"p5": 32}, 2, RATIOS)
    check_tensor("generate_fpn_anchors(...)['p5']", anchors["p5"], expected["p5"],
                 hints=anchor_hints(inverted["p5"]))


@pytest.mark.points(3, tags=("generate_fpn_anchors",))
def test_anchor_boxes_of_three_levels_match_reference(student, reference, case_rng):
    """generate_fpn_anchors: three levels, any order of rows"""
    stride_scale = int(torch.randint(2, 9, (1,), generator=case_rng))
    strides = {"p3": 8, "p4": 16, "p5": 32}
    shapes = {"p3": (1, 8, 6, 10), "p4": (1, 8, 3, 5), "p5": (1, 8, 2, 3)}
    locations = reference.get_fpn_location_coords(shapes, strides)
    expected, inverted = expected_and_inverted(reference, locations, strides, stride_scale, RATIOS)
    anchors = student("generate_fpn_anchors", locations, strides, stride_scale, RATIOS)
    for name in strides:
        actual = anchors[name] if isinstance(anchors, dict) else None
        if isinstance(actual, torch.Tensor) and rows_as_set_equal(actual, expected[name]):
            continue  # the order is judged by the next test
        check_tensor(f"generate_fpn_anchors(..., stride_scale={stride_scale})['{name}']", actual,
                     expected[name], hints=anchor_hints(inverted[name]))


@pytest.mark.points(1, tags=("generate_fpn_anchors",))
def test_anchor_rows_are_location_major(student, reference, case_rng):
    """generate_fpn_anchors: row i * A + a is anchor a of location i"""
    strides = {"p4": 16}
    height, width = (int(n) for n in torch.randint(2, 6, (2,), generator=case_rng))
    locations = reference.get_fpn_location_coords({"p4": (1, 8, height, width)}, strides)
    ratios = [[0.25, 0.5, 1.0, 2.0][i] for i in torch.randperm(4, generator=case_rng)]
    stride_scale = int(torch.randint(2, 9, (1,), generator=case_rng))
    expected, inverted = expected_and_inverted(reference, locations, strides, stride_scale, ratios)
    anchors = student("generate_fpn_anchors", locations, strides, stride_scale, ratios)
    check_tensor("generate_fpn_anchors(...)['p4'] with 4 aspect ratios", anchors["p4"], expected["p4"],
                 hints=anchor_hints(inverted["p4"]))


@pytest.mark.points(1, tags=("generate_fpn_anchors",))
def test_aspect_ratio_half_gives_wide_anchors(student, reference, case_rng):
    """generate_fpn_anchors: aspect ratio 0.5 is twice as wide as high"""
    locations = {"p3": 50 + 100 * torch.rand(1, 2, generator=case_rng)}
    stride_scale = int(torch.randint(2, 9, (1,), generator=case_rng))
    anchors = student("generate_fpn_anchors", locations, {"p3": 8}, stride_scale, [0.5])
    box = anchors["p3"]
    check_tensor("generate_fpn_anchors(...)['p3'] for one location and ratio 0.5", box,
                 reference.generate_fpn_anchors(locations, {"p3": 8}, stride_scale, [0.5])["p3"],
                 hints=(lambda a, e: "the anchor is tall: aspect ratio is height / width, so 0.5 must be wide"
                        if (a[0, 2] - a[0, 0]) < (a[0, 3] - a[0, 1]) else None,))
