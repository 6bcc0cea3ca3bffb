// Plain data types of the evaluation: COCO inputs as users hand them over and
// the columnar (typed-array) forms the evaluator works on.

/** A COCO ground-truth dataset (only the fields evaluation reads are typed). */
export interface CocoGroundTruth {
  images: { id: number; [key: string]: unknown }[];
  annotations: CocoAnnotation[];
  categories: { id: number; name?: string; [key: string]: unknown }[];
  [key: string]: unknown;
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** [x, y, width, height] */
  bbox: [number, number, number, number] | number[];
  /** Used for the area ranges (small / medium / large), as pycocotools does. */
  area: number;
  /** 0 or 1 (booleans accepted). Crowd regions are ignored and may match many detections. */
  iscrowd?: number | boolean;
  /** Has no effect under pycocotools semantics (see EvaluateOptions.honorIgnoreFlag). */
  ignore?: number | boolean;
  [key: string]: unknown;
}

/** One entry of a COCO results file. Any `area`, `id` or `iscrowd` given is ignored, as by pycocotools. */
export interface CocoDetection {
  image_id: number;
  category_id: number;
  /** [x, y, width, height] */
  bbox: [number, number, number, number] | number[];
  score: number;
  [key: string]: unknown;
}

/**
 * Validated ground truth in columnar form. Images are sorted by id (the order
 * pycocotools evaluates them in); categories are sorted by id.
 */
export interface IndexedGroundTruth {
  /** Where it came from (a file path or "ground truth"), for messages. */
  source: string;
  /** Sorted image ids. */
  imageIds: Float64Array;
  imageIndex: Map<number, number>;
  /** Sorted category ids and their names. */
  categoryIds: Float64Array;
  categoryNames: string[];
  categoryIndex: Map<number, number>;
  /** Annotations in file order. */
  count: number;
  annId: Float64Array;
  /** Index into imageIds. */
  annImage: Int32Array;
  /** Index into categoryIds. */
  annCategory: Int32Array;
  /** [x, y, w, h] per annotation. */
  annBox: Float64Array;
  annArea: Float64Array;
  annCrowd: Uint8Array;
  /** 1 where the annotation carries a truthy `ignore` field. */
  annIgnoreField: Uint8Array;
  /** Oddities that pycocotools tolerates and so do we (repeated image or category entries). */
  warnings: string[];
}

/** Validated detections in columnar form, in file order. */
export interface IndexedDetections {
  source: string;
  count: number;
  /** Index into IndexedGroundTruth.imageIds. */
  image: Int32Array;
  /** Index into IndexedGroundTruth.categoryIds. */
  category: Int32Array;
  /** [x, y, w, h] per detection. */
  box: Float64Array;
  score: Float64Array;
  /** Oddities that pycocotools tolerates and so do we (boxes with negative sizes). */
  warnings: string[];
}

/** Detections as read from a results file or array, before they are checked against the ground truth. */
export interface RawDetections {
  count: number;
  imageId: Float64Array;
  categoryId: Float64Array;
  box: Float64Array;
  score: Float64Array;
}
