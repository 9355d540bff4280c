/* test_decode.c - fw_decode_jpeg on real photos and on broken, hostile and unusual inputs.
 *
 * Real photos: Debian's darknet package (fixture `photos`, tests/fetch_photos.sh), in
 * FW_TEST_PHOTO_DIR. Synthetic JPEGs (grayscale, CMYK) are made here with tjCompress2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <turbojpeg.h>

#include "fw_decode.h"
#include "fw_error.h"

#ifndef FW_TEST_PHOTO_DIR
#error "FW_TEST_PHOTO_DIR must be defined"
#endif

static const char *const photo_names[] = {"dog",  "eagle",  "giraffe", "horses",
                                          "kite", "person", "scream"};
#define NPHOTOS (sizeof photo_names / sizeof photo_names[0])

typedef struct blob {
    uint8_t *data;
    size_t len;
} blob;

static blob read_photo(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.jpg", FW_TEST_PHOTO_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (run the fetch_test_photos fixture)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(n > 0);
    blob b = {malloc((size_t)n), (size_t)n};
    assert_non_null(b.data);
    assert_int_equal(fread(b.data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return b;
}

static blob dup_blob(const uint8_t *p, size_t n)
{
    blob b = {malloc(n ? n : 1), n};
    assert_non_null(b.data);
    if (n)
        memcpy(b.data, p, n);
    return b;
}

/* A readable, single-line, non-empty message. */
static void check_msg(const char *msg)
{
    assert_non_null(msg);
    assert_true(msg[0] != '\0');
    for (const char *p = msg; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            fail_msg("control character 0x%02x in message \"%s\"", c, msg);
    }
}

/* Offset of the first marker `m` (FF m) in the header segments, walking the segment chain;
 * SIZE_MAX if not found before SOS. */
static size_t find_marker(const uint8_t *b, size_t n, int m)
{
    size_t pos = 2;
    while (pos + 4 <= n) {
        if (b[pos] != 0xFF)
            return SIZE_MAX;
        int mk = b[pos + 1];
        if (mk == m)
            return pos;
        if (mk == 0xDA)
            return SIZE_MAX;
        size_t seg = ((size_t)b[pos + 2] << 8) | b[pos + 3];
        pos += 2 + seg;
    }
    return SIZE_MAX;
}

static size_t segment_end(const uint8_t *b, size_t pos)
{
    return pos + 2 + (((size_t)b[pos + 2] << 8) | b[pos + 3]);
}

/* Expected choice: the smallest factor <= 1 in TurboJPEG's list whose output is >= min in both
 * dimensions; full size when none is. Written independently of fw_decode.c's loop. */
static void expected_scale(int w, int h, int min_w, int min_h, int *ew, int *eh)
{
    int n = 0;
    tjscalingfactor *sf = tjGetScalingFactors(&n);
    assert_non_null(sf);
    double best = 2.0;
    *ew = w;
    *eh = h;
    for (int i = 0; i < n; i++) {
        double f = (double)sf[i].num / sf[i].denom;
        if (f > 1.0)
            continue;
        int sw = TJSCALED(w, sf[i]), sh = TJSCALED(h, sf[i]);
        if (sw >= (min_w < 1 ? 1 : min_w) && sh >= (min_h < 1 ? 1 : min_h) && f < best) {
            best = f;
            *ew = sw;
            *eh = sh;
        }
    }
}

/* ---- real photos ---- */

static void test_photos_decode_and_scale(void **state)
{
    (void)state;
    fw_decoder *d = fw_decoder_new();
    assert_non_null(d);
    tjhandle ref = tjInitDecompress();
    assert_non_null(ref);
    const int mins[][2] = {{224, 224}, {1, 1},     {299, 299},       {320, 100}, {100, 320},
                           {256, 256}, {640, 480}, {100000, 100000}, {0, 0}};
    fw_decode_limits lim = {.max_pixels = 50u * 1000 * 1000, .accept_warnings = 0};
    for (size_t p = 0; p < NPHOTOS; p++) {
        blob b = read_photo(photo_names[p]);
        int hw = 0, hh = 0, ss = 0, cs = 0;
        assert_int_equal(tjDecompressHeader3(ref, b.data, b.len, &hw, &hh, &ss, &cs), 0);
        for (size_t m = 0; m < sizeof mins / sizeof mins[0]; m++) {
            const uint8_t *rgb = NULL;
            fw_decode_info info;
            char msg[256];
            fw_err e = fw_decode_jpeg(d, b.data, b.len, &lim, mins[m][0], mins[m][1], &rgb, &info,
                                      msg, sizeof msg);
            if (e != FW_OK)
                fail_msg("%s min %dx%d: %s: %s", photo_names[p], mins[m][0], mins[m][1],
                         fw_error_name(e), msg);
            assert_non_null(rgb);
            assert_int_equal(info.src_w, hw);
            assert_int_equal(info.src_h, hh);
            assert_int_equal(info.warning, 0);
            int ew, eh;
            expected_scale(hw, hh, mins[m][0], mins[m][1], &ew, &eh);
            assert_int_equal(info.w, ew);
            assert_int_equal(info.h, eh);
            /* The reported factor really produces that size and is never an upscale. */
            tjscalingfactor f = {info.scale_num, info.scale_denom};
            assert_true(f.num >= 1 && f.num <= f.denom);
            assert_int_equal(TJSCALED(hw, f), info.w);
            assert_int_equal(TJSCALED(hh, f), info.h);
            if (mins[m][0] <= hw && mins[m][1] <= hh) {
                assert_true(info.w >= mins[m][0]);
                assert_true(info.h >= mins[m][1]);
            }

            /* Pixels equal a plain tjDecompress2 at the same size. */
            size_t n = (size_t)info.w * info.h * 3;
            uint8_t *want = malloc(n);
            assert_non_null(want);
            assert_int_equal(
                tjDecompress2(ref, b.data, b.len, want, info.w, 0, info.h, TJPF_RGB, 0), 0);
            assert_memory_equal(rgb, want, n);
            free(want);
            if (m == 0)
                print_message("  %-8s %4dx%-4d -> %3dx%-3d (scale %d/%d) for min 224x224\n",
                              photo_names[p], hw, hh, info.w, info.h, info.scale_num,
                              info.scale_denom);
        }
        free(b.data);
    }
    tjDestroy(ref);
    fw_decoder_free(d);
}

/* ---- broken inputs ---- */

static fw_err dec(fw_decoder *d, const uint8_t *p, size_t n, int accept, fw_decode_info *info,
                  const uint8_t **rgb, char *msg, size_t msglen)
{
    fw_decode_limits lim = {.max_pixels = 50u * 1000 * 1000, .accept_warnings = accept};
    fw_err e = fw_decode_jpeg(d, p, n, &lim, 224, 224, rgb, info, msg, msglen);
    if (e != FW_OK) {
        check_msg(msg);
        assert_null(*rgb);
    } else {
        assert_non_null(*rgb);
        assert_true(info->w > 0 && info->h > 0);
    }
    return e;
}

static void test_truncated(void **state)
{
    (void)state;
    fw_decoder *d = fw_decoder_new();
    assert_non_null(d);
    for (size_t p = 0; p < NPHOTOS; p++) {
        blob b = read_photo(photo_names[p]);
        const uint8_t *rgb;
        fw_decode_info info;
        char msg[256];
        fw_err e = dec(d, b.data, b.len / 2, 0, &info, &rgb, msg, sizeof msg);
        assert_int_equal(e, FW_ERR_JPEG_TRUNCATED);
        if (p == 0)
            print_message("  truncated: %s: %s\n", fw_error_name(e), msg);
        e = dec(d, b.data, b.len / 2, 1, &info, &rgb, msg, sizeof msg);
        assert_int_equal(e, FW_OK);
        assert_int_equal(info.warning, 1);
        assert_true(info.src_w > 0 && info.src_h > 0);
        /* The whole image is written: the missing part is libjpeg's grey. Read every byte
         * (valgrind/ASan would flag an unwritten one); the bottom row is flat grey. */
        unsigned long sum = 0;
        for (size_t i = 0; i < (size_t)info.w * info.h * 3; i++)
            sum += rgb[i];
        assert_true(sum > 0);
        const uint8_t *last = rgb + (size_t)(info.h - 1) * info.w * 3;
        for (int x = 0; x < info.w * 3; x++)
            assert_true(last[x] == last[0]);
        /* And the decoder is still good afterwards. */
        assert_int_equal(dec(d, b.data, b.len, 0, &info, &rgb, msg, sizeof msg), FW_OK);
        assert_int_equal(info.warning, 0);
        free(b.data);
    }
    fw_decoder_free(d);
}

static void test_header_only(void **state)
{
    (void)state;
    fw_decoder *d = fw_decoder_new();
    assert_non_null(d);
    blob b = read_photo("person");
    size_t sos = find_marker(b.data, b.len, 0xDA);
    assert_true(sos != SIZE_MAX);
    const uint8_t *rgb;
    fw_decode_info info;
    char msg[256];

    /* Everything before SOS: no scan at all. */
    fw_err e = dec(d, b.data, sos, 0, &info, &rgb, msg, sizeof msg);
    print_message("  up to SOS: %s: %s\n", fw_error_name(e), msg);
    assert_int_equal(e, FW_ERR_JPEG_HEADER);
    assert_int_equal(dec(d, b.data, sos, 1, &info, &rgb, msg, sizeof msg), FW_ERR_JPEG_HEADER);

    /* The SOS segment itself, but no entropy-coded data. */
    size_t after = segment_end(b.data, sos);
    e = dec(d, b.data, after, 0, &info, &rgb, msg, sizeof msg);
    print_message("  SOS, no data: %s: %s\n", fw_error_name(e), msg);
    assert_int_equal(e, FW_ERR_JPEG_TRUNCATED);
    e = dec(d, b.data, after, 1, &info, &rgb, msg, sizeof msg);
    assert_int_equal(e, FW_OK);
    assert_int_equal(info.warning, 1);

    /* Only SOI + APP0. */
    size_t app0_end = segment_end(b.data, 2);
    assert_int_equal(dec(d, b.data, app0_end, 0, &info, &rgb, msg, sizeof msg), FW_ERR_JPEG_HEADER);
    free(b.data);
    fw_decoder_free(d);
}

static void test_bit_flips_never_crash(void **state)
{
    (void)state;
    fw_decoder *d = fw_decoder_new();
    assert_non_null(d);
    int counts[FW_ERR__COUNT] = {0};
    unsigned long checksum = 0;
    for (size_t p = 0; p < NPHOTOS; p++) {
        blob b = read_photo(photo_names[p]);
        size_t sos = find_marker(b.data, b.len, 0xDA);
        assert_true(sos != SIZE_MAX);
        size_t data = segment_end(b.data, sos);
        size_t span = b.len - 2 - data; /* the scan data, EOI excluded */
        blob m = dup_blob(b.data, b.len);
        for (int k = 0; k < 40; k++) {
            memcpy(m.data, b.data, b.len);
            /* Deterministic: 1..4 flips at positions spread through the scan. */
            for (int j = 0; j <= k % 4; j++) {
                size_t off = data + ((size_t)(k * 7919 + j * 104729) * 2654435761u) % span;
                m.data[off] ^= (uint8_t)(1u << ((k + j) % 8));
            }
            for (int accept = 0; accept <= 1; accept++) {
                const uint8_t *rgb;
                fw_decode_info info;
                char msg[256];
                fw_err e = dec(d, m.data, m.len, accept, &info, &rgb, msg, sizeof msg);
                assert_true(e >= 0 && e < FW_ERR__COUNT);
                counts[e]++;
                if (e == FW_OK) {
                    /* Touch every pixel: an unwritten byte would show under valgrind. */
                    for (size_t i = 0; i < (size_t)info.w * info.h * 3; i++)
                        checksum += rgb[i];
                }
            }
        }
        free(m.data);
        free(b.data);
    }
    print_message("  bit flips (checksum %lu):", checksum);
    for (int i = 0; i < FW_ERR__COUNT; i++)
        if (counts[i])
            print_message(" %s=%d", fw_error_name((fw_err)i), counts[i]);
    print_message("\n");
    fw_decoder_free(d);
}

static void test_huge_declared_size(void **state)
{
    (void)state;
    fw_decoder *d = fw_decoder_new();
    assert_non_null(d);
    blob b = read_photo("dog");
    size_t sof = find_marker(b.data, b.len, 0xC0);
    assert_true(sof != SIZE_MAX);
    /* SOF0: FF C0 len(2) precision(1) height(2) width(2) */
    b.data[sof + 5] = 60000 >> 8;
    b.data[sof + 6] = 60000 & 0xFF;
    b.data[sof + 7] = 60000 >> 8;
    b.data[sof + 8] = 60000 & 0xFF;
    const uint8_t *rgb;
    fw_decode_info info;
    char msg[256];
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
    struct mallinfo2 before = mallinfo2();
#endif
    fw_decode_limits lim = {.max_pixels = 50u * 1000 * 1000, .accept_warnings = 1};
    fw_err e = fw_decode_jpeg(d, b.data, b.len, &lim, 224, 224, &rgb, &info, msg, sizeof msg);
    print_message("  60000x60000: %s: %s\n", fw_error_name(e), msg);
    assert_int_equal(e, FW_ERR_IMAGE_TOO_LARGE);
    check_msg(msg);
    assert_null(rgb);
    assert_int_equal(info.src_w, 60000);
    assert_int_equal(info.src_h, 60000);
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
    /* Nothing close to the 10.8 GB pixel buffer was allocated (the decoder is still alive, so
     * a buffer would still be counted). */
    struct mallinfo2 after = mallinfo2();
    size_t grew = (after.arena + after.hblkhd) - (before.arena + before.hblkhd);
    assert_true((after.arena + after.hblkhd) < (before.arena + before.hblkhd) ||
                grew < 16u * 1024 * 1024);
#endif
    /* Also with the default cap (limits NULL). */
    e = fw_decode_jpeg(d, b.data, b.len, NULL, 224, 224, &rgb, &info, msg, sizeof msg);
    assert_int_equal(e, FW_ERR_IMAGE_TOO_LARGE);
    /* And just over a small explicit cap with the real size: 768x576 = 442368 pixels. */
    blob g = read_photo("dog");
    lim.max_pixels = 768 * 576 - 1;
    assert_int_equal(fw_decode_jpeg(d, g.data, g.len, &lim, 1, 1, &rgb, &info, msg, sizeof msg),
                     FW_ERR_IMAGE_TOO_LARGE);
    lim.max_pixels = 768 * 576;
    assert_int_equal(fw_decode_jpeg(d, g.data, g.len, &lim, 1, 1, &rgb, &info, msg, sizeof msg),
                     FW_OK);
    free(g.data);
    free(b.data);
    fw_decoder_free(d);
}

static void test_not_jpeg_and_empty(void **state)
{
    (void)state;
    fw_decoder *d = fw_decoder_new();
    assert_non_null(d);
    const uint8_t *rgb;
    fw_decode_info info;
    char msg[256];
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13};
    static const char text[] = "hello, this is not an image\n";
    static const uint8_t ff[] = {0xFF};
    static const uint8_t d8ff[] = {0xD8, 0xFF, 0xE0};
    static const uint8_t soi[] = {0xFF, 0xD8};
    static const uint8_t soi_ff[] = {0xFF, 0xD8, 0xFF};
    static const uint8_t soi_eoi[] = {0xFF, 0xD8, 0xFF, 0xD9};

    assert_int_equal(dec(d, png, sizeof png, 0, &info, &rgb, msg, sizeof msg), FW_ERR_NOT_JPEG);
    print_message("  png: %s\n", msg);
    assert_int_equal(dec(d, (const uint8_t *)text, strlen(text), 0, &info, &rgb, msg, sizeof msg),
                     FW_ERR_NOT_JPEG);
    assert_int_equal(dec(d, ff, sizeof ff, 0, &info, &rgb, msg, sizeof msg), FW_ERR_NOT_JPEG);
    assert_int_equal(dec(d, d8ff, sizeof d8ff, 0, &info, &rgb, msg, sizeof msg), FW_ERR_NOT_JPEG);

    assert_int_equal(dec(d, png, 0, 0, &info, &rgb, msg, sizeof msg), FW_ERR_EMPTY_FRAME);
    print_message("  empty: %s\n", msg);
    assert_int_equal(dec(d, NULL, 0, 0, &info, &rgb, msg, sizeof msg), FW_ERR_EMPTY_FRAME);
    assert_int_equal(dec(d, NULL, 100, 0, &info, &rgb, msg, sizeof msg), FW_ERR_EMPTY_FRAME);

    for (int accept = 0; accept <= 1; accept++) {
        assert_int_equal(dec(d, soi, sizeof soi, accept, &info, &rgb, msg, sizeof msg),
                         FW_ERR_JPEG_HEADER);
        if (!accept)
            print_message("  FF D8: %s\n", msg);
        assert_int_equal(dec(d, soi_ff, sizeof soi_ff, accept, &info, &rgb, msg, sizeof msg),
                         FW_ERR_JPEG_HEADER);
        assert_int_equal(dec(d, soi_eoi, sizeof soi_eoi, accept, &info, &rgb, msg, sizeof msg),
                         FW_ERR_JPEG_HEADER);
    }

    /* Bad arguments; msg may be NULL. */
    assert_int_equal(fw_decode_jpeg(NULL, soi, 2, NULL, 1, 1, &rgb, &info, msg, sizeof msg),
                     FW_ERR_INTERNAL);
    check_msg(msg);
    assert_int_equal(fw_decode_jpeg(d, soi, 2, NULL, 1, 1, NULL, &info, NULL, 0), FW_ERR_INTERNAL);
    assert_int_equal(fw_decode_jpeg(d, png, sizeof png, NULL, 1, 1, &rgb, &info, NULL, 0),
                     FW_ERR_NOT_JPEG);
    /* A 1-byte message buffer is still NUL-terminated. */
    char tiny[1] = {'x'};
    assert_int_equal(fw_decode_jpeg(d, png, sizeof png, NULL, 1, 1, &rgb, &info, tiny, 1),
                     FW_ERR_NOT_JPEG);
    assert_int_equal(tiny[0], '\0');
    fw_decoder_free(d);
    fw_decoder_free(NULL);
}

/* ---- synthetic JPEGs ---- */

static blob compress(const uint8_t *px, int w, int h, int pf, int subsamp, int quality)
{
    tjhandle c = tjInitCompress();
    assert_non_null(c);
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    if (tjCompress2(c, px, w, 0, h, pf, &jpeg, &size, subsamp, quality, 0) != 0)
        fail_msg("tjCompress2: %s", tjGetErrorStr2(c));
    blob b = dup_blob(jpeg, size);
    tjFree(jpeg);
    tjDestroy(c);
    return b;
}

static void test_grayscale_to_rgb(void **state)
{
    (void)state;
    const int w = 67, h = 45; /* not multiples of 8 */
    uint8_t *g = malloc((size_t)w * h);
    assert_non_null(g);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            g[y * w + x] = (uint8_t)(x * 3 + y * 2);
    blob j = compress(g, w, h, TJPF_GRAY, TJSAMP_GRAY, 95);

    tjhandle ref = tjInitDecompress();
    int hw, hh, ss, cs;
    assert_int_equal(tjDecompressHeader3(ref, j.data, j.len, &hw, &hh, &ss, &cs), 0);
    assert_int_equal(cs, TJCS_GRAY);
    uint8_t *want = malloc((size_t)w * h);
    assert_int_equal(tjDecompress2(ref, j.data, j.len, want, w, 0, h, TJPF_GRAY, 0), 0);

    fw_decoder *d = fw_decoder_new();
    const uint8_t *rgb;
    fw_decode_info info;
    char msg[256];
    assert_int_equal(dec(d, j.data, j.len, 0, &info, &rgb, msg, sizeof msg), FW_OK);
    /* min 224x224 is larger than the image: full size. */
    assert_int_equal(info.w, w);
    assert_int_equal(info.h, h);
    assert_int_equal(info.scale_num, 1);
    assert_int_equal(info.scale_denom, 1);
    int maxerr = 0;
    for (int i = 0; i < w * h; i++) {
        assert_int_equal(rgb[3 * i], rgb[3 * i + 1]);
        assert_int_equal(rgb[3 * i], rgb[3 * i + 2]);
        assert_int_equal(rgb[3 * i], want[i]);
        int e = abs((int)rgb[3 * i] - (int)g[i]);
        if (e > maxerr)
            maxerr = e;
    }
    assert_true(maxerr <= 8); /* quality 95 of a smooth ramp */
    free(want);
    tjDestroy(ref);
    fw_decoder_free(d);
    free(j.data);
    free(g);
}

static void test_cmyk_rejected(void **state)
{
    (void)state;
    const int w = 32, h = 24;
    uint8_t *px = malloc((size_t)w * h * 4);
    assert_non_null(px);
    for (int i = 0; i < w * h * 4; i++)
        px[i] = (uint8_t)(i * 7);
    blob j = compress(px, w, h, TJPF_CMYK, TJSAMP_444, 90);
    fw_decoder *d = fw_decoder_new();
    const uint8_t *rgb;
    fw_decode_info info;
    char msg[256];
    for (int accept = 0; accept <= 1; accept++) {
        fw_err e = dec(d, j.data, j.len, accept, &info, &rgb, msg, sizeof msg);
        assert_int_equal(e, FW_ERR_UNSUPPORTED_JPEG);
        assert_non_null(strstr(msg, "CMYK"));
    }
    print_message("  cmyk: %s\n", msg);
    fw_decoder_free(d);
    free(j.data);
    free(px);
}

/* TurboJPEG 2.1 pitfalls around the header call, as a sequence on one decoder:
 *  - a header that warns (extraneous bytes before a marker), then a good photo;
 *  - a stream cut before the frame header (tjDecompressHeader3 returns 0 without a size);
 *  - a truncated decode (warning), then the header-warning photo, then good again. */
static void test_header_warning_sequences(void **state)
{
    (void)state;
    blob b = read_photo("person");
    /* Two junk bytes before the second marker segment: libjpeg warns "extraneous bytes". */
    size_t pos = segment_end(b.data, 2);
    blob junk = {malloc(b.len + 2), b.len + 2};
    assert_non_null(junk.data);
    memcpy(junk.data, b.data, pos);
    junk.data[pos] = 0x12;
    junk.data[pos + 1] = 0x34;
    memcpy(junk.data + pos + 2, b.data + pos, b.len - pos);

    /* Raw TurboJPEG on one handle, for the record (not asserted: version-specific). */
    tjhandle raw = tjInitDecompress();
    int w = -1, h = -1, s = -1, c = -1;
    int r = tjDecompressHeader3(raw, junk.data, junk.len, &w, &h, &s, &c);
    print_message("  raw: junk header -> %d (%s, %dx%d) \"%s\"\n", r,
                  r ? (tjGetErrorCode(raw) == TJERR_WARNING ? "warning" : "fatal") : "ok", w, h,
                  r ? tjGetErrorStr2(raw) : "");
    w = h = -1;
    r = tjDecompressHeader3(raw, b.data, 4, &w, &h, &s, &c);
    print_message("  raw: 4-byte header -> %d, size %dx%d (-1: left unset)\n", r, w, h);
    tjDestroy(raw);

    fw_decoder *d = fw_decoder_new();
    const uint8_t *rgb;
    fw_decode_info info;
    char msg[256];
    for (int round = 0; round < 3; round++) {
        fw_err e = dec(d, junk.data, junk.len, 0, &info, &rgb, msg, sizeof msg);
        assert_int_equal(e, FW_ERR_JPEG_TRUNCATED);
        if (round == 0)
            print_message("  junk header: %s: %s\n", fw_error_name(e), msg);
        assert_int_equal(dec(d, b.data, b.len, 0, &info, &rgb, msg, sizeof msg), FW_OK);
        assert_int_equal(info.src_w, 640);
        assert_int_equal(info.src_h, 424);
        assert_int_equal(info.warning, 0);

        assert_int_equal(dec(d, b.data, 4, 0, &info, &rgb, msg, sizeof msg), FW_ERR_JPEG_HEADER);
        assert_int_equal(dec(d, b.data, b.len, 0, &info, &rgb, msg, sizeof msg), FW_OK);
        assert_int_equal(info.src_w, 640);

        assert_int_equal(dec(d, b.data, b.len / 3, 0, &info, &rgb, msg, sizeof msg),
                         FW_ERR_JPEG_TRUNCATED);
        assert_int_equal(dec(d, junk.data, junk.len, 1, &info, &rgb, msg, sizeof msg), FW_OK);
        assert_int_equal(info.warning, 1);
        assert_int_equal(info.src_w, 640);
        assert_int_equal(dec(d, b.data, b.len, 1, &info, &rgb, msg, sizeof msg), FW_OK);
        assert_int_equal(info.warning, 0);
        assert_int_equal(info.src_h, 424);
    }
    fw_decoder_free(d);
    free(junk.data);
    free(b.data);
}

/* TurboJPEG 2.1 pitfall: a FATAL error that follows a warning in the same tjDecompress2 call is
 * reported as TJERR_WARNING (the warning flag is sticky), with the fatal text, and the last rows
 * of the image are never written. A marker planted in the middle of the scan data gives exactly
 * that: "premature end of data segment" (warning), then "two SOF markers" (fatal). With
 * accept_warnings this must be an error, not an image with stale rows. */
static void test_fatal_after_warning(void **state)
{
    (void)state;
    static const uint8_t planted[] = {0xC0, 0xD8, 0xC4, 0xDB, 0xDA};
    fw_decoder *d = fw_decoder_new();
    assert_non_null(d);
    tjhandle raw = tjInitDecompress();
    for (size_t ph = 0; ph < NPHOTOS; ph++) {
        blob b = read_photo(photo_names[ph]);
        size_t sos = find_marker(b.data, b.len, 0xDA);
        assert_true(sos != SIZE_MAX);
        size_t data = segment_end(b.data, sos), mid = data + (b.len - data) / 2;
        for (size_t k = 0; k < sizeof planted; k++) {
            blob m = dup_blob(b.data, b.len);
            m.data[mid] = 0xFF;
            m.data[mid + 1] = planted[k];
            if (ph == 0) {
                int w, h, ss, cs;
                assert_int_equal(tjDecompressHeader3(raw, m.data, m.len, &w, &h, &ss, &cs), 0);
                uint8_t *px = malloc((size_t)w * h * 3);
                int r = tjDecompress2(raw, m.data, m.len, px, w, 0, h, TJPF_RGB, 0);
                print_message("  raw: FF %02X mid-scan -> %d, %s, \"%s\"\n", planted[k], r,
                              tjGetErrorCode(raw) == TJERR_WARNING ? "TJERR_WARNING"
                                                                   : "TJERR_FATAL",
                              r ? tjGetErrorStr2(raw) : "");
                free(px);
            }
            const uint8_t *rgb;
            fw_decode_info info;
            char msg[256];
            fw_err e = dec(d, m.data, m.len, 1, &info, &rgb, msg, sizeof msg);
            if (e == FW_OK)
                fail_msg("%s, FF %02X mid-scan accepted as a warning (warning=%d)", photo_names[ph],
                         planted[k], info.warning);
            assert_int_equal(e, FW_ERR_JPEG_CORRUPT);
            if (ph == 0 && k == 0)
                print_message("  FF C0 mid-scan, accept_warnings: %s: %s\n", fw_error_name(e), msg);
            assert_int_equal(dec(d, m.data, m.len, 0, &info, &rgb, msg, sizeof msg),
                             FW_ERR_JPEG_TRUNCATED);
            free(m.data);
        }
        free(b.data);
    }
    tjDestroy(raw);
    fw_decoder_free(d);
}

/* ---- random mutations ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_random_mutations(void **state)
{
    (void)state;
    blob b = read_photo("person");
    const size_t cap = b.len * 2 + 64;
    uint8_t *m = malloc(cap);
    assert_non_null(m);
    fw_decoder *d = fw_decoder_new();
    assert_non_null(d);
    int counts[FW_ERR__COUNT] = {0};
    const int iterations = 2000;
    const double budget_s = 120.0; /* bound the time under valgrind */
    double t0 = now_s();
    int it;
    unsigned long checksum = 0;
    for (it = 0; it < iterations && now_s() - t0 < budget_s; it++) {
        size_t n = b.len;
        memcpy(m, b.data, n);
        int kind = (int)(rng() % 6);
        int edits = 1 + (int)(rng() % 8);
        for (int e = 0; e < edits; e++) {
            size_t off = (size_t)(rng() % n);
            switch (kind) {
            case 0: /* bit flip anywhere */
                m[off] ^= (uint8_t)(1u << (rng() % 8));
                break;
            case 1: /* random byte, biased to the header */
                off = (size_t)(rng() % (n < 8000 ? n : 8000));
                m[off] = (uint8_t)rng();
                break;
            case 2: /* truncate */
                n = 2 + (size_t)(rng() % (n - 2));
                e = edits;
                break;
            case 3: { /* zero a run */
                size_t run = 1 + (size_t)(rng() % 64);
                if (off + run > n)
                    run = n - off;
                memset(m + off, 0, run);
                break;
            }
            case 4: { /* insert a copy of a random chunk */
                size_t run = 1 + (size_t)(rng() % 256), from = (size_t)(rng() % n);
                if (from + run > n)
                    run = n - from;
                if (n + run > cap)
                    break;
                memmove(m + off + run, m + off, n - off);
                memmove(m + off, m + from + (from >= off ? run : 0), run);
                n += run;
                break;
            }
            default: /* plant a marker */
                if (off + 1 < n) {
                    static const uint8_t markers[] = {0xD8, 0xD9, 0xDA, 0xC0, 0xC2, 0xC4, 0xDB,
                                                      0xDD, 0xD0, 0xE1, 0xFE, 0xCF, 0xC3};
                    m[off] = 0xFF;
                    m[off + 1] = markers[rng() % sizeof markers];
                }
                break;
            }
        }
        /* Keep SOI most of the time so the TurboJPEG paths are exercised. */
        if (rng() % 8) {
            m[0] = 0xFF;
            m[1] = 0xD8;
        }
        const uint8_t *rgb;
        fw_decode_info info;
        char msg[256];
        fw_err e = dec(d, m, n, (int)(it & 1), &info, &rgb, msg, sizeof msg);
        assert_true(e >= 0 && e < FW_ERR__COUNT);
        counts[e]++;
        if (e == FW_OK) {
            /* Touch every pixel: an unwritten byte would show under valgrind. */
            for (size_t i = 0; i < (size_t)info.w * info.h * 3; i++)
                checksum += rgb[i];
        }
    }
    double dt = now_s() - t0;
    print_message("  %d mutations in %.1f s (checksum %lu):", it, dt, checksum);
    for (int i = 0; i < FW_ERR__COUNT; i++)
        if (counts[i])
            print_message(" %s=%d", fw_error_name((fw_err)i), counts[i]);
    print_message("\n");
    assert_true(it >= 100);
    fw_decoder_free(d);
    free(m);
    free(b.data);
}

/* Informative only (no pass/fail on speed): median decode time of a photo for a 224x224 model. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_decode_timing(void **state)
{
    (void)state;
    const char *names[] = {"person", "dog", "kite"};
    fw_decoder *d = fw_decoder_new();
    enum { N = 101 };
    for (size_t k = 0; k < 3; k++) {
        blob b = read_photo(names[k]);
        const int mins[2][2] = {{224, 224}, {100000, 100000}};
        for (int s = 0; s < 2; s++) {
            double t[N];
            fw_decode_info info;
            for (int i = 0; i < N; i++) {
                const uint8_t *rgb;
                char msg[256];
                double t0 = now_s();
                fw_err e = fw_decode_jpeg(d, b.data, b.len, NULL, mins[s][0], mins[s][1], &rgb,
                                          &info, msg, sizeof msg);
                t[i] = now_s() - t0;
                assert_int_equal(e, FW_OK);
            }
            qsort(t, N, sizeof t[0], cmp_double);
            print_message("  decode %-6s %4dx%-4d -> %4dx%-4d (%d/%d): median %.3f ms, p90 %.3f "
                          "ms (%d runs)\n",
                          names[k], info.src_w, info.src_h, info.w, info.h, info.scale_num,
                          info.scale_denom, t[N / 2] * 1e3, t[N * 9 / 10] * 1e3, N);
        }
        free(b.data);
    }
    fw_decoder_free(d);
}

int main(void)
{
    /* e.g. FW_TEST_SKIP=test_decode_timing under valgrind */
    const char *filter = getenv("FW_TEST_FILTER"), *skip = getenv("FW_TEST_SKIP");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    if (skip && *skip)
        cmocka_set_skip_filter(skip);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_photos_decode_and_scale),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_bit_flips_never_crash),
        cmocka_unit_test(test_huge_declared_size),
        cmocka_unit_test(test_not_jpeg_and_empty),
        cmocka_unit_test(test_grayscale_to_rgb),
        cmocka_unit_test(test_cmyk_rejected),
        cmocka_unit_test(test_header_warning_sequences),
        cmocka_unit_test(test_fatal_after_warning),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_decode_timing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
