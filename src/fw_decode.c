/* fw_decode.c - untrusted JPEG bytes to RGB pixels with TurboJPEG 2.1 (see fw_decode.h).
 *
 * TurboJPEG 2.1.5 behaviours this file relies on or defends against (measured):
 *  - tjDecompressHeader3() returns 0 WITHOUT setting width/height/subsamp/colorspace when the
 *    stream ends before a frame header (e.g. just "FF D8", or a cut before SOF/SOS): libjpeg's
 *    jpeg_read_header() then reports a tables-only stream and turbojpeg returns success. The
 *    outputs are therefore zeroed first and w<=0||h<=0 is rejected.
 *  - A header with a recoverable problem (extraneous bytes before a marker) returns -1 with
 *    tjGetErrorCode()==TJERR_WARNING but does fill the outputs.
 *  - tjDecompress2() returns -1 for warnings too (truncated data: the rest of the image is grey);
 *    tjGetErrorCode() tells TJERR_WARNING from TJERR_FATAL. TJFLAG_STOPONWARNING makes the first
 *    warning abort the decode.
 *  - BUT the warning flag is sticky within a call: a FATAL error that follows a warning (a marker
 *    inside the scan data: "premature end of data segment", then "two SOF markers") is reported
 *    as TJERR_WARNING with the fatal text in tjGetErrorStr2(), and the last rows of the image are
 *    never written. So a warning is only believed when its text is one of libjpeg's JWRN_*
 *    messages (is_warning_text); this matters only with accept_warnings (without it,
 *    TJFLAG_STOPONWARNING stops at the first warning). tests/test_decode.c checks this.
 *  - tjDecompress2() picks its own scaling factor: the first entry of tjGetScalingFactors() (in
 *    list order, largest first) whose scaled size fits the requested width x height; an
 *    unsupported factor is never reported. We replicate that rule so info reports the factor
 *    that was really used.
 *  - The handle's libjpeg state after an error is not something we want to reason about: after
 *    any failed TurboJPEG call the handle is replaced by a fresh one before the next use (a few
 *    microseconds, on the error path only).
 *  - Speed: 1/2, 1/4, 1/8 use fast reduced IDCTs; the odd factors (7/8, 3/4, 5/8, 3/8) are plain
 *    C and measured no faster than 1/1 here (person.jpg 640x424: 5/8 1.58 ms, 1/1 1.62 ms); their
 *    gain is the smaller image handed to the resize. */
#include "fw_decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

/* Used when limits is NULL or limits->max_pixels is 0. */
#define FW_DECODE_DEFAULT_MAX_PIXELS ((uint64_t)8192 * 8192)

struct fw_decoder {
    tjhandle tj;
    int tj_dirty;              /* 1: the last TurboJPEG call failed; use a fresh handle */
    uint8_t *buf;              /* reusable RGB output, grows only */
    size_t cap;                /* bytes allocated in buf */
    const tjscalingfactor *sf; /* TurboJPEG's list, static storage in the library */
    int nsf;
};

fw_decoder *fw_decoder_new(void)
{
    fw_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->tj = tjInitDecompress();
    d->sf = tjGetScalingFactors(&d->nsf);
    if (!d->tj || !d->sf || d->nsf <= 0) {
        if (d->tj)
            tjDestroy(d->tj);
        free(d);
        return NULL;
    }
    return d;
}

void fw_decoder_free(fw_decoder *d)
{
    if (!d)
        return;
    if (d->tj)
        tjDestroy(d->tj);
    free(d->buf);
    free(d);
}

/* printf into msg, then make it one line of printable text. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
set_msg(char *msg, size_t msglen, const char *fmt, ...)
{
    if (!msg || msglen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r' || msg[len - 1] == ' '))
        msg[--len] = '\0';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c < 0x20 || c == 0x7f)
            msg[i] = ' ';
    }
    if (len == 0 && msglen > 1)
        snprintf(msg, msglen, "JPEG decode failed");
}

/* The TurboJPEG error text of the last call on d->tj, never NULL or empty. */
static const char *tj_msg(fw_decoder *d)
{
    const char *s = tjGetErrorStr2(d->tj);
    return (s && s[0]) ? s : "unknown TurboJPEG error";
}

static int ensure_handle(fw_decoder *d)
{
    if (d->tj && !d->tj_dirty)
        return 0;
    if (d->tj)
        tjDestroy(d->tj);
    d->tj = tjInitDecompress();
    d->tj_dirty = 0;
    return d->tj ? 0 : -1;
}

static int factor_less(tjscalingfactor a, tjscalingfactor b)
{
    return (long long)a.num * b.denom < (long long)b.num * a.denom;
}

/* Chooses the output size: the smallest scaled size (factor <= 1/1 from TurboJPEG's own list)
 * that is at least min_w x min_h, else full size; then reports the factor tjDecompress2 will
 * actually use for that size (the first list entry that fits, as TurboJPEG does). */
static void pick_scale(const fw_decoder *d, int w, int h, int min_w, int min_h, int *sw, int *sh,
                       int *num, int *denom)
{
    if (min_w < 1)
        min_w = 1;
    if (min_h < 1)
        min_h = 1;
    int best = -1;
    for (int i = 0; i < d->nsf; i++) {
        tjscalingfactor f = d->sf[i];
        if (f.num <= 0 || f.denom <= 0 || f.num > f.denom)
            continue;
        if (TJSCALED(w, f) >= min_w && TJSCALED(h, f) >= min_h &&
            (best < 0 || factor_less(f, d->sf[best])))
            best = i;
    }
    *sw = w;
    *sh = h;
    if (best >= 0) {
        *sw = TJSCALED(w, d->sf[best]);
        *sh = TJSCALED(h, d->sf[best]);
    }
    *num = 1;
    *denom = 1;
    for (int i = 0; i < d->nsf; i++) {
        if (TJSCALED(w, d->sf[i]) <= *sw && TJSCALED(h, d->sf[i]) <= *sh) {
            *num = d->sf[i].num;
            *denom = d->sf[i].denom;
            break;
        }
    }
}

static int contains(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

/* A valid stream this build cannot decode (12-bit, lossless/hierarchical SOF, a subsampling
 * TurboJPEG cannot classify, arithmetic coding if compiled out) rather than a broken one.
 * ("Unsupported marker type" is left out on purpose: that is what corrupt data looks like.) */
static int is_unsupported_text(const char *e)
{
    return contains(e, "Unsupported JPEG data precision") ||
           contains(e, "Unsupported JPEG process") || contains(e, "Unsupported color conversion") ||
           contains(e, "determine subsampling") || contains(e, "omitted at compile time") ||
           contains(e, "DNL not supported");
}

/* TurboJPEG 2.1 reports TJERR_WARNING for a FATAL error that followed a warning in the same call
 * (the warning flag is sticky within the call), and tjGetErrorStr2() then holds the fatal text.
 * Accepting that as a warning would hand out an image whose remaining rows were never written.
 * So a "warning" is only believed when its text is one of libjpeg's warning messages (JWRN_*,
 * jerror.h); anything else is treated as fatal, which can only reject, never accept, more. */
static int is_warning_text(const char *e)
{
    static const char *const prefixes[] = {
        "Corrupt JPEG data",                     /* JWRN_EXTRANEOUS_DATA, _HIT_MARKER, ... */
        "Premature end of JPEG file",            /* JWRN_JPEG_EOF */
        "Warning: ",                             /* JWRN_JFIF_MAJOR, JWRN_BOGUS_ICC (2.1) */
        "Invalid SOS parameters for sequential", /* JWRN_NOT_SEQUENTIAL */
        "Application transferred too many",      /* JWRN_TOO_MUCH_DATA */
        "Inconsistent progression sequence",     /* JWRN_BOGUS_PROGRESSION */
        "Unknown Adobe color transform code",    /* JWRN_ADOBE_XFORM */
    };
    if (!e)
        return 0;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

fw_err fw_decode_jpeg(fw_decoder *d, const uint8_t *jpeg, size_t len,
                      const fw_decode_limits *limits, int min_w, int min_h, const uint8_t **rgb,
                      fw_decode_info *info, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = '\0';
    if (rgb)
        *rgb = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    if (!d || !rgb || !info) {
        set_msg(msg, msglen, "fw_decode_jpeg: invalid arguments");
        return FW_ERR_INTERNAL;
    }
    if (!jpeg || len == 0) {
        set_msg(msg, msglen, "empty frame: no JPEG bytes");
        return FW_ERR_EMPTY_FRAME;
    }
    if (len < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) {
        set_msg(msg, msglen, "not a JPEG: the data does not start with the SOI marker FF D8");
        return FW_ERR_NOT_JPEG;
    }
    if (len > (size_t)(unsigned long)-1) {
        set_msg(msg, msglen, "JPEG of %zu bytes is too large", len);
        return FW_ERR_IMAGE_TOO_LARGE;
    }
    uint64_t max_pixels = FW_DECODE_DEFAULT_MAX_PIXELS;
    int accept_warnings = 0;
    if (limits) {
        if (limits->max_pixels)
            max_pixels = limits->max_pixels;
        accept_warnings = limits->accept_warnings != 0;
    }
    if (ensure_handle(d) != 0) {
        set_msg(msg, msglen, "out of memory creating a TurboJPEG decompressor");
        return FW_ERR_INTERNAL;
    }

    /* Header. The outputs are only written once libjpeg has read a frame header; a fatal error
     * that followed a warning still reports TJERR_WARNING, hence the extra checks. */
    int w = 0, h = 0, subsamp = -1, cs = -1;
    int warned = 0;
    int hr = tjDecompressHeader3(d->tj, jpeg, (unsigned long)len, &w, &h, &subsamp, &cs);
    if (hr != 0)
        d->tj_dirty = 1;
    if (hr != 0 && (w <= 0 || h <= 0 || tjGetErrorCode(d->tj) != TJERR_WARNING ||
                    !is_warning_text(tj_msg(d)))) {
        const char *e = tj_msg(d);
        if (is_unsupported_text(e)) {
            set_msg(msg, msglen, "unsupported JPEG: %s", e);
            return FW_ERR_UNSUPPORTED_JPEG;
        }
        set_msg(msg, msglen, "bad JPEG header: %s", e);
        return FW_ERR_JPEG_HEADER;
    }
    if (w <= 0 || h <= 0) {
        /* TurboJPEG 2.1 returns success without setting the size when the stream ends before
         * a frame header (libjpeg sees a tables-only stream). */
        d->tj_dirty = 1;
        set_msg(msg, msglen,
                "bad JPEG header: no image in the data (cut off before the frame header, or a "
                "tables-only stream)");
        return FW_ERR_JPEG_HEADER;
    }
    if (hr != 0) {
        /* A header warning (e.g. extraneous bytes before a marker); the size is valid. */
        if (!accept_warnings) {
            info->src_w = w;
            info->src_h = h;
            set_msg(msg, msglen, "damaged JPEG header (warning): %s", tj_msg(d));
            return FW_ERR_JPEG_TRUNCATED;
        }
        warned = 1;
    }
    info->src_w = w;
    info->src_h = h;
    if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
        set_msg(msg, msglen,
                "unsupported JPEG: %s colour space (%dx%d); only RGB, YCbCr and grayscale "
                "JPEGs are accepted",
                cs == TJCS_CMYK ? "CMYK" : "YCCK (CMYK)", w, h);
        return FW_ERR_UNSUPPORTED_JPEG;
    }
    if ((uint64_t)w * (uint64_t)h > max_pixels) {
        set_msg(msg, msglen, "image too large: %dx%d = %llu pixels, the limit is %llu", w, h,
                (unsigned long long)((uint64_t)w * (uint64_t)h), (unsigned long long)max_pixels);
        return FW_ERR_IMAGE_TOO_LARGE;
    }

    /* Scale and buffer. */
    int sw, sh, num, denom;
    pick_scale(d, w, h, min_w, min_h, &sw, &sh, &num, &denom);
    size_t need = (size_t)sw * (size_t)sh * 3u;
    if (need > d->cap) {
        uint8_t *nb = realloc(d->buf, need);
        if (!nb) {
            set_msg(msg, msglen, "out of memory for a %dx%d RGB image", sw, sh);
            return FW_ERR_INTERNAL;
        }
        d->buf = nb;
        d->cap = need;
    }

    /* Decode. */
    int flags = TJFLAG_LIMITSCANS | (accept_warnings ? 0 : TJFLAG_STOPONWARNING);
    if (tjDecompress2(d->tj, jpeg, (unsigned long)len, d->buf, sw, 0, sh, TJPF_RGB, flags) != 0) {
        d->tj_dirty = 1;
        const char *e = tj_msg(d);
        if (tjGetErrorCode(d->tj) == TJERR_WARNING && is_warning_text(e)) {
            if (!accept_warnings) {
                set_msg(msg, msglen, "truncated or damaged JPEG (warning): %s", e);
                return FW_ERR_JPEG_TRUNCATED;
            }
            warned = 1;
        } else if (contains(e, "Insufficient memory")) {
            set_msg(msg, msglen, "out of memory decoding JPEG: %s", e);
            return FW_ERR_INTERNAL;
        } else if (is_unsupported_text(e)) {
            set_msg(msg, msglen, "unsupported JPEG: %s", e);
            return FW_ERR_UNSUPPORTED_JPEG;
        } else {
            set_msg(msg, msglen, "corrupt JPEG data: %s", e);
            return FW_ERR_JPEG_CORRUPT;
        }
    }

    info->w = sw;
    info->h = sh;
    info->scale_num = num;
    info->scale_denom = denom;
    info->warning = warned;
    *rgb = d->buf;
    return FW_OK;
}
