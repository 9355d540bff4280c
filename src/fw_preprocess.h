/* fw_preprocess.h - resize and normalise decoded RGB pixels into one float NCHW batch slot.
 *
 * The arithmetic is defined to match PyTorch exactly, so a reference can be computed in Python:
 *   stretch:           F.interpolate(x, size=(H, W), mode="bilinear", align_corners=ac,
 *                      antialias=False) on the whole image.
 *   shorter_side_crop: resize so that the shorter side is `resize_shorter` and the longer side is
 *                      int(resize_shorter * long / short) (torchvision's rule), with the same
 *                      bilinear interpolation, then a centre crop of H x W with offsets
 *                      int(round((rh - H) / 2.0)), int(round((rw - W) / 2.0)) (torchvision's
 *                      CenterCrop). Done in one pass: only the cropped pixels are computed.
 * PyTorch 1.13's float32 CPU kernel computes the scale in float but the source position and the
 * weight in double (rounding only the weight to float); fw_preprocess does the same and agrees
 * with it to about 2e-6 after normalisation (tests/test_preprocess.c, tests/preprocess_ref.py).
 * Then per channel: out = (pixel * scale - mean[c]) / std[c], with c in the manifest's colour
 * order (the planes are written as B,G,R when color is FW_COLOR_BGR; mean/std are given in that
 * same output order).
 * Pure functions: safe from any thread. */
#ifndef FW_PREPROCESS_H
#define FW_PREPROCESS_H

#include <stdint.h>

typedef enum fw_resize { FW_RESIZE_STRETCH = 0, FW_RESIZE_SHORTER_SIDE_CROP = 1 } fw_resize;
typedef enum fw_color { FW_COLOR_RGB = 0, FW_COLOR_BGR = 1 } fw_color;

typedef struct fw_preproc {
    int width, height; /* model input size W x H, > 0 */
    fw_resize resize;
    int resize_shorter; /* FW_RESIZE_SHORTER_SIDE_CROP only: shorter side length, >= max(W,H)
                         * is not required but >= both of W and H is (checked by the manifest) */
    int align_corners;  /* 0 or 1, as in F.interpolate */
    fw_color color;
    float scale; /* applied to the 0..255 pixel value first, e.g. 1/255 */
    float mean[3], std[3];
    int full_decode; /* 1: JPEGs are always decoded at full size, never at a reduced DCT scale
                      * (manifest "jpeg_dct_scaling": false), so that the resize sees the pixels
                      * a full-size reference decoder sees; 0 (default): smallest useful scale */
} fw_preproc;

/* The smallest decoded size (w, h) that the preprocessing needs so that decoding never has to
 * produce more pixels than the resize uses: for stretch, W x H; for shorter_side_crop, an image
 * whose shorter side is at least resize_shorter (expressed here as the minimum of each side given
 * the source aspect src_w:src_h). The decoder picks the smallest DCT scaling whose output is at
 * least this large in both dimensions (or 1/1 if the source is smaller).
 * In practice: stretch gives W x H; shorter_side_crop gives max(resize_shorter, W) x
 * max(resize_shorter, H): DCT scaling rounds both sides up alike, so once the shorter side
 * reaches resize_shorter the longer one has too, whatever the aspect (src_w, src_h are accepted
 * for that reason but not needed); asking more of the longer side could only force a larger
 * scale. With p->full_decode set, both are INT_MAX: the decoder then always uses 1/1. */
void fw_preprocess_min_size(const fw_preproc *p, int src_w, int src_h, int *min_w, int *min_h);

/* Resizes and normalises `rgb` (w*h*3 bytes, R,G,B interleaved, rows of w*3 bytes) into `out`,
 * 3*H*W floats laid out as planes in the manifest's colour order. Returns 0, or -1 when
 * w or h < 1 or the parameters are invalid. */
int fw_preprocess(const uint8_t *rgb, int w, int h, const fw_preproc *p, float *out);

#endif /* FW_PREPROCESS_H */
