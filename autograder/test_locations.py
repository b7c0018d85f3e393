"""Graded: `get_fpn_location_coords`, image coordinates of FPN locations."""
import pytest
import torch

from autograder.units.grading_fixtures import case_rng, reference, student, submission_seed  # noqa: F401
from autograder.units.judge import allclose, check_tensor

STRIDES = {"p3": 8, "p4": 16, "p5": 32}
MIN_HALF_STRIDE, MAX_HALF_STRIDE = 4, 32  # the 2x2 example's odd stride lies in [9, 63]


def location_hints(height, width, stride):
    def transposed(actual, expected):
        y_fastest = expected.reshape(height, width, 2).transpose(0, 1).reshape(-1, 2)
        if allclose(actual, y_fastest):
            return "locations look transposed: y varies fastest; list them row by row (row h * W + w), x varying fastest"
        return None

    def no_half_offset(actual, expected):
        if allclose(actual, expected - stride / 2):
            return "the centre of location (h, w) is (stride * (w + 0.5), stride * (h + 0.5)): the +0.5 is missing"
        return None

    def floored_half_stride(actual, expected):
        if stride % 2 and allclose(actual, expected - 0.5):
            return (f"stride // 2 rounds down for the odd stride {stride}: the centre is stride * (w + 0.5), "
                    "not stride * w + stride // 2")
        return None

    def y_before_x(actual, expected):
        if allclose(actual, expected.flip(1)):
            return "columns are (y, x); each row must be (xc, yc)"
        return None

    return (transposed, no_half_offset, floored_half_stride, y_before_x)


@pytest.mark.points(1, tags=("get_fpn_location_coords",))
def test_locations_of_a_2x2_p5_map(student, case_rng):
    """get_fpn_location_coords: the notebook's 2x2 P5 example (with a random odd stride)"""
    # Odd: the centre stride * (w + 0.5) is then no integer, and `stride * w + stride // 2` is wrong.
    stride = 2 * int(torch.randint(MIN_HALF_STRIDE, MAX_HALF_STRIDE, (1,), generator=case_rng)) + 1
    coords = student("get_fpn_location_coords", {"p5": (2, 64, 2, 2)}, {"p5": stride})
    # With stride 33: (16.5, 16.5), (49.5, 16.5), (16.5, 49.5), (49.5, 49.5).
    expected = torch.tensor([[0.5, 0.5], [1.5, 0.5], [0.5, 1.5], [1.5, 1.5]]) * stride
    check_tensor(f"get_fpn_location_coords(...)['p5'] with stride {stride}", coords["p5"], expected,
                 hints=location_hints(2, 2, stride))


@pytest.mark.points(4, tags=("get_fpn_location_coords",))
def test_locations_of_non_square_levels_match_reference(student, reference, case_rng):
    """get_fpn_location_coords: three non-square FPN levels"""
    height, width = (int(v) for v in torch.randint(2, 9, (2,), generator=case_rng))
    height += width  # never square
    shapes = {name: (2, 16, height * 32 // stride, width * 32 // stride) for name, stride in STRIDES.items()}
    coords = student("get_fpn_location_coords", shapes, STRIDES)
    expected = reference.get_fpn_location_coords(shapes, STRIDES)
    if not isinstance(coords, dict) or set(coords) != set(STRIDES):
        check_tensor("get_fpn_location_coords(...)", None if not isinstance(coords, dict) else coords.get("p3"),
                     expected["p3"])
    for name, shape in shapes.items():
        check_tensor(f"get_fpn_location_coords(...)['{name}'] for a {shape[2]}x{shape[3]} map", coords[name],
                     expected[name], hints=location_hints(shape[2], shape[3], STRIDES[name]))


@pytest.mark.points(1, tags=("get_fpn_location_coords",))
def test_locations_honour_the_dtype_argument(student, reference, case_rng):
    """get_fpn_location_coords: the `dtype` argument is honoured"""
    height, width = (int(n) for n in torch.randint(2, 7, (2,), generator=case_rng))
    stride = 2 ** int(torch.randint(3, 6, (1,), generator=case_rng))  # 8, 16 or 32
    shapes, strides = {"p4": (1, 8, height, width)}, {"p4": stride}
    coords = student("get_fpn_location_coords", shapes, strides, dtype=torch.float64)
    expected = reference.get_fpn_location_coords(shapes, strides, dtype=torch.float64)
    check_tensor("get_fpn_location_coords(..., dtype=torch.float64)['p4']", coords["p4"], expected["p4"],
                 hints=location_hints(height, width, stride))
    assert coords["p4"].dtype == torch.float64, (
        f"`get_fpn_location_coords`: asked for dtype torch.float64, got {coords['p4'].dtype}: "
        "create the coordinates with `dtype=dtype` (and `device=device`)"
    )
