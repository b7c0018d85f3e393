from common import nms, does_not_exist


def iou(boxes1, boxes2):
    return boxes1
