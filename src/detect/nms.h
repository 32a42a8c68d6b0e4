// Greedy non-maximum suppression as InsightFace's SCRFD.nms (areas with the +1 pixel convention).
#pragma once

#include <cstddef>
#include <vector>

#include "facefill/face.h"

namespace facefill::detect {

// `boxes` must be sorted by score, highest first. Returns the indices kept, in that order: a box is suppressed
// when its IoU with an already kept box is greater than `iou_threshold`.
std::vector<size_t> GreedyNms(const std::vector<BoxF>& boxes, float iou_threshold);

// InsightFace's max_num selection ('default' metric): keeps the `max_faces` faces with the largest
// area - 2 * squared distance of the box centre from the image centre. Returns indices in that order.
std::vector<size_t> SelectLargestCentral(const std::vector<BoxF>& boxes, int image_width, int image_height,
                                         int max_faces);

}  // namespace facefill::detect

namespace facefill::detect {

// The tail every detector shares: sort candidates by score (highest first), greedy NMS, then max_faces selection.
std::vector<FaceDetection> SuppressAndSelect(std::vector<FaceDetection> candidates, float nms_threshold, int max_faces,
                                             int image_width, int image_height);

}  // namespace facefill::detect
