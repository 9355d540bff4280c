/* fw_decode.h - untrusted JPEG bytes to RGB pixels with TurboJPEG, safely and at the smallest
 * useful DCT scale.
 *
 * Order of checks: empty input, SOI marker, header (tjDecompressHeader3, outputs zeroed first and
 * w<=0||h<=0 rejected: TurboJPEG 2.1 can return 0 without setting them after an earlier warning on
 * the same handle), colour space (CMYK/YCCK rejected), pixel cap (checked on the declared size
 * before any allocation), then tjDecompress2 with TJFLAG_LIMITSCANS. A decoder warning
 * (TJERR_WARNING, e.g. a truncated file) is an error unless limits.accept_warnings is set, in which
 * case the (partly grey) image is used and info.warning is set.
 *
 * Threads: one fw_decoder per thread; a decoder is not thread-safe. */
#ifndef FW_DECODE_H
#define FW_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"

typedef struct fw_decoder fw_decoder;

typedef struct fw_decode_limits {
    uint64_t max_pixels;  /* cap on declared width*height (full size, before scaling) */
    int accept_warnings;  /* 0: warnings (truncated data) are errors; 1: use the image anyway */
} fw_decode_limits;

typedef struct fw_decode_info {
    int src_w, src_h;     /* declared size */
    int w, h;             /* decoded (scaled) size */
    int scale_num, scale_denom;
    int warning;          /* 1 when a warning was accepted */
} fw_decode_info;

/* Returns a new decoder (owns one TurboJPEG handle and a reusable pixel buffer) or NULL. */
fw_decoder *fw_decoder_new(void);
void fw_decoder_free(fw_decoder *d);

/* Decodes `jpeg` (len bytes) to interleaved RGB at the smallest TurboJPEG scaling factor whose
 * output is at least min_w x min_h (1/1 when none is; never upscales). On success returns FW_OK,
 * sets *rgb to info->w * info->h * 3 bytes owned by the decoder (valid until the next call) and
 * fills *info. On failure returns the error code and writes a readable message into msg (msglen
 * bytes, NUL-terminated). Grayscale JPEGs decode to RGB. */
fw_err fw_decode_jpeg(fw_decoder *d, const uint8_t *jpeg, size_t len, const fw_decode_limits *limits,
                      int min_w, int min_h, const uint8_t **rgb, fw_decode_info *info, char *msg,
                      size_t msglen);

#endif /* FW_DECODE_H */
