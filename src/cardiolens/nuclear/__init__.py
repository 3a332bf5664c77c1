"""Nuclear cardiology quantification: reorientation, segmentation, polar maps, scores, function."""
