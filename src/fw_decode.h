/* fw_decode.h - untrusted JPEG bytes to RGB pixels with TurboJPEG, safely and at the smallest
 * useful DCT scale.
 *
 * Order of checks: empty input, SOI marker, header (tjDecompressHeader3, outputs zeroed first and
 * w<=0||h<=0 rejected: TurboJPEG 2.1 returns 0 without setting them when the data ends before a
 * frame header, e.g. just FF D8; the handle is also replaced after any failed call), colour space
 * (CMYK/YCCK rejected), pixel cap (checked on the declared size before any allocation), then
 * tjDecompress2 with TJFLAG_LIMITSCANS. A decoder warning (TJERR_WARNING, e.g. a truncated file)
 * is an error unless limits.accept_warnings is set, in which case the (partly grey) image is used
 * and info.warning is set. A fatal error that TurboJPEG reports as a warning (it does when a
 * warning came first in the same call; the image is then incomplete) is always an error.
 *
 * Threads: one fw_decoder per thread; a decoder is not thread-safe. */
#ifndef FW_DECODE_H
#define FW_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"

typedef struct fw_decoder fw_decoder;

/* limits may be NULL: max_pixels 8192*8192, accept_warnings 0. max_pixels 0 means the same
 * default cap (there is no "unlimited"). */
typedef struct fw_decode_limits {
    uint64_t max_pixels; /* cap on declared width*height (full size, before scaling) */
    int accept_warnings; /* 0: warnings (truncated data) are errors; 1: use the image anyway */
} fw_decode_limits;

typedef struct fw_decode_info {
    int src_w, src_h;           /* declared size (also set on failure once the header was read) */
    int w, h;                   /* decoded (scaled) size */
    int scale_num, scale_denom; /* the factor TurboJPEG used: w = ceil(src_w * num / denom) */
    int warning;                /* 1 when a warning was accepted */
} fw_decode_info;

/* Returns a new decoder (owns one TurboJPEG handle and a reusable pixel buffer) or NULL. */
fw_decoder *fw_decoder_new(void);
void fw_decoder_free(fw_decoder *d);

/* Decodes `jpeg` (len bytes) to interleaved RGB at the smallest TurboJPEG scaling factor whose
 * output is at least min_w x min_h (1/1 when none is; never upscales). On success returns FW_OK,
 * sets *rgb to info->w * info->h * 3 bytes owned by the decoder (valid until the next call) and
 * fills *info. On failure returns the error code and writes a readable message into msg (msglen
 * bytes, NUL-terminated, one line; msg may be NULL). Grayscale JPEGs decode to RGB (R=G=B).
 * Codes: FW_ERR_EMPTY_FRAME (NULL or 0 bytes), FW_ERR_NOT_JPEG (no FF D8), FW_ERR_JPEG_HEADER,
 * FW_ERR_UNSUPPORTED_JPEG (CMYK/YCCK, 12-bit, lossless, ...), FW_ERR_IMAGE_TOO_LARGE,
 * FW_ERR_JPEG_TRUNCATED (a warning, header or data, when warnings are not accepted),
 * FW_ERR_JPEG_CORRUPT (fatal error in the data), FW_ERR_INTERNAL (NULL d/rgb/info, out of
 * memory). */
fw_err fw_decode_jpeg(fw_decoder *d, const uint8_t *jpeg, size_t len,
                      const fw_decode_limits *limits, int min_w, int min_h, const uint8_t **rgb,
                      fw_decode_info *info, char *msg, size_t msglen);

#endif /* FW_DECODE_H */
