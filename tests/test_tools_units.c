/* test_tools_units.c - the tools' building blocks without a server: the log-linear histogram
 * against exact percentiles, the recording format written by the real recorder thread and read
 * back from every possible truncation point (a kill mid-write) and after damage, the recorder's
 * GAP accounting when its queue is full, the MJPEG splitter on real photos, clock sync
 * arithmetic, answer parsing and the --compare logic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fw_answer.h"
#include "fw_clocksync.h"
#include "fw_histogram.h"
#include "fw_recorder.h"
#include "fw_recording.h"
#include "fw_results.h"
#include "fw_source.h"
#include "fw_toolutil.h"
#include "test_util.h"

#define WORK FW_TEST_WORK_DIR "/units"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- histogram ---- */

static void test_hist_buckets(void **state)
{
    (void)state;
    /* Contiguous, increasing buckets; every value inside its bucket; width <= 1/64 of the value. */
    for (int i = 1; i < FW_HIST_BUCKETS; i++)
        assert_int_equal(fw_hist_bucket_low(i), fw_hist_bucket_high(i - 1) + 1);
    int64_t vals[] = {0,
                      1,
                      127,
                      128,
                      129,
                      255,
                      256,
                      1000,
                      65535,
                      1000000,
                      123456789,
                      (int64_t)1 << 40,
                      INT64_MAX / 2};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        int b = fw_hist_bucket(vals[i]);
        assert_true(b >= 0 && b < FW_HIST_BUCKETS);
        assert_true(fw_hist_bucket_low(b) <= vals[i] && vals[i] <= fw_hist_bucket_high(b));
        if (vals[i] >= 128)
            assert_true(fw_hist_bucket_high(b) - fw_hist_bucket_low(b) + 1 <= vals[i] / 64 + 1);
        else
            assert_int_equal(fw_hist_bucket_low(b), vals[i]); /* exact */
    }
}

static void test_hist_percentiles(void **state)
{
    (void)state;
    enum { N = 20000 };
    static int64_t v[N];
    fw_hist h;
    fw_hist_init(&h);
    assert_int_equal(fw_hist_percentile(&h, 50), 0);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* A long-tailed mix: most around 2 ms, some up to seconds. */
        v[i] = (int64_t)(x % 1000) + 1500 + (i % 97 == 0 ? (int64_t)(x % 3000000) : 0);
        fw_hist_add(&h, v[i]);
    }
    qsort(v, N, sizeof v[0], cmp_i64);
    assert_int_equal(h.total, N);
    assert_int_equal(h.min, v[0]);
    assert_int_equal(h.max, v[N - 1]);
    assert_int_equal(fw_hist_percentile(&h, 100), v[N - 1]);
    double ps[] = {1, 10, 50, 90, 99, 99.9, 99.99};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        int64_t exact = v[(size_t)ceil(ps[i] / 100.0 * N - 1e-9) - 1];
        int64_t got = fw_hist_percentile(&h, ps[i]);
        /* Never below the exact value, at most one bucket (1/64) above it. */
        assert_true(got >= exact);
        assert_true(got <= exact + exact / 64 + 1);
    }
    /* Merge = adding everything to one histogram. */
    fw_hist a, b;
    fw_hist_init(&a);
    fw_hist_init(&b);
    for (int i = 0; i < N; i++)
        fw_hist_add(i % 2 ? &a : &b, v[i]);
    fw_hist_merge(&a, &b);
    assert_int_equal(a.total, h.total);
    assert_int_equal(fw_hist_percentile(&a, 99), fw_hist_percentile(&h, 99));
    /* Exact small values; negative values count as 0 and are reported. */
    fw_hist s;
    fw_hist_init(&s);
    for (int i = 1; i <= 100; i++)
        fw_hist_add(&s, i);
    assert_int_equal(fw_hist_percentile(&s, 50), 50);
    assert_int_equal(fw_hist_percentile(&s, 99), 99);
    fw_hist_add(&s, -5);
    assert_int_equal(s.clamped, 1);
    assert_int_equal(s.min, 0);
}

/* ---- recording ---- */

struct rec_expect {
    int type;
    uint64_t frame_id, capture;
    size_t len;
    uint8_t fill;
};

static char *find_rec_file(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s/*.fwrec 2>/dev/null | head -1", dir);
    FILE *p = popen(cmd, "r");
    static char line[600];
    line[0] = 0;
    if (p) {
        if (!fgets(line, sizeof line, p))
            line[0] = 0;
        pclose(p);
    }
    line[strcspn(line, "\n")] = 0;
    return line[0] ? line : NULL;
}

/* Writes a session through the real recorder (writer thread) and returns the file's path. */
static char *write_session(const char *dir, const struct rec_expect *ex, int n, size_t qbytes,
                           fw_recorder_stats *st)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    char err[300];
    char *info = fw_recorder_info_json("framewire test", "m", 32, 32, 4, "logits", "cpu");
    fw_recorder *r = fw_recorder_open(dir, info, qbytes, err, sizeof err);
    free(info);
    assert_non_null(r);
    fw_recorder_session_open(r, 7);
    for (int i = 0; i < n; i++) {
        uint8_t *buf = malloc(ex[i].len + 1);
        memset(buf, ex[i].fill, ex[i].len);
        if (ex[i].type == FW_REC_FRAME)
            fw_recorder_frame(r, 7, ex[i].frame_id, ex[i].capture, 1000 + i, buf, ex[i].len);
        else if (ex[i].type == FW_REC_CLIENT_TEXT)
            fw_recorder_client_text(r, 7, 1000 + i, buf, ex[i].len);
        else
            fw_recorder_server_text(r, 7, 1000 + i, buf, ex[i].len);
        free(buf);
    }
    fw_recorder_session_close(r, 7);
    fw_recorder_get_stats(r, st); /* before close: may still be writing */
    fw_recorder_close(r);
    char *path = find_rec_file(dir);
    assert_non_null(path);
    return path;
}

/* Reads a recording; returns the record count, fills offsets of record ends, torn flag. */
static int read_all(const char *path, int *types, int max, int *torn)
{
    char err[300];
    fw_rec_reader *rd = fw_rec_open(path, err, sizeof err);
    if (!rd)
        return -1;
    fw_rec_record rec;
    int n = 0, rc;
    while ((rc = fw_rec_next(rd, &rec, err, sizeof err)) == 1) {
        if (n < max)
            types[n] = rec.type;
        n++;
    }
    assert_int_equal(rc, 0);
    *torn = fw_rec_torn(rd);
    fw_rec_close(rd);
    return n;
}

static void test_recording_roundtrip_and_truncation(void **state)
{
    (void)state;
    struct rec_expect ex[] = {
        {FW_REC_CLIENT_TEXT, 0, 0, 20, 'c'}, {FW_REC_FRAME, 1, 111, 300, 0xAB},
        {FW_REC_SERVER_TEXT, 0, 0, 60, 's'}, {FW_REC_FRAME, 2, 222, 0, 0},
        {FW_REC_FRAME, 3, 333, 1000, 0xCD},  {FW_REC_SERVER_TEXT, 0, 0, 45, 't'},
    };
    int n = (int)(sizeof ex / sizeof ex[0]);
    fw_recorder_stats st;
    char *path = strdup(write_session(WORK "/rec1", ex, n, 0, &st));

    /* Every record back, in order, with its fields and bytes. */
    char err[300];
    fw_rec_reader *rd = fw_rec_open(path, err, sizeof err);
    assert_non_null(rd);
    assert_int_equal(fw_rec_session_id(rd), 7);
    fw_rec_record rec;
    assert_int_equal(fw_rec_next(rd, &rec, err, sizeof err), 1);
    assert_int_equal(rec.type, FW_REC_META);
    assert_non_null(strstr((const char *)rec.payload, "\"session\":7"));
    long ends[16];
    int nrec = 0;
    ends[nrec++] = (long)(rec.offset + FW_REC_HEADER_LEN + rec.len);
    for (int i = 0; i < n; i++) {
        assert_int_equal(fw_rec_next(rd, &rec, err, sizeof err), 1);
        assert_int_equal(rec.type, ex[i].type);
        assert_int_equal(rec.len, ex[i].len);
        assert_int_equal(rec.ts_us, 1000 + i);
        if (ex[i].type == FW_REC_FRAME) {
            assert_int_equal(rec.frame_id, ex[i].frame_id);
            assert_int_equal(rec.capture_us, ex[i].capture);
        }
        for (size_t k = 0; k < rec.len; k++)
            assert_int_equal(rec.payload[k], ex[i].fill);
        ends[nrec++] = (long)(rec.offset + FW_REC_HEADER_LEN + rec.len);
    }
    assert_int_equal(fw_rec_next(rd, &rec, err, sizeof err), 1);
    assert_int_equal(rec.type, FW_REC_CLOSE);
    ends[nrec++] = (long)(rec.offset + FW_REC_HEADER_LEN + rec.len);
    assert_int_equal(fw_rec_next(rd, &rec, err, sizeof err), 0);
    assert_int_equal(fw_rec_torn(rd), 0);
    fw_rec_close(rd);

    /* Cut the file at every byte: the reader returns exactly the records that are whole, and
     * says "torn" exactly when the cut is not at a record boundary. */
    size_t flen;
    uint8_t *whole = tu_read_file(path, &flen);
    assert_non_null(whole);
    assert_int_equal((long)flen, ends[nrec - 1]);
    char cut[600];
    snprintf(cut, sizeof cut, "%s/cut.fwrec", WORK);
    for (size_t off = FW_REC_FILE_HEADER_LEN; off <= flen; off++) {
        FILE *f = fopen(cut, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(whole, 1, off, f), off);
        fclose(f);
        int expect = 0, boundary = off == FW_REC_FILE_HEADER_LEN;
        for (int i = 0; i < nrec; i++) {
            if (ends[i] <= (long)off)
                expect++;
            if (ends[i] == (long)off)
                boundary = 1;
        }
        int types[16], torn;
        int got = read_all(cut, types, 16, &torn);
        assert_int_equal(got, expect);
        assert_int_equal(torn, !boundary);
    }
    /* Damage a payload byte in the middle: reading stops cleanly before that record. */
    whole[ends[2] + FW_REC_HEADER_LEN + 5] ^= 0xFF;
    FILE *f = fopen(cut, "wb");
    fwrite(whole, 1, flen, f);
    fclose(f);
    int types[16], torn;
    assert_int_equal(read_all(cut, types, 16, &torn), 3);
    assert_int_equal(torn, 1);
    /* Not a recording at all. */
    f = fopen(cut, "wb");
    fputs("hello, not a recording", f);
    fclose(f);
    assert_null(fw_rec_open(cut, err, sizeof err));
    assert_non_null(strstr(err, "not a framewire recording"));
    free(whole);
    free(path);
}

static void test_recorder_gap_when_full(void **state)
{
    (void)state;
    /* A queue of 1 byte takes no frame: every one is lost, counted, and reported in the file. */
    struct rec_expect ex[] = {
        {FW_REC_FRAME, 1, 0, 100, 1}, {FW_REC_FRAME, 2, 0, 100, 2}, {FW_REC_FRAME, 3, 0, 100, 3}};
    fw_recorder_stats st;
    char *path = write_session(WORK "/rec2", ex, 3, 1, &st);
    char err[300];
    fw_rec_reader *rd = fw_rec_open(path, err, sizeof err);
    assert_non_null(rd);
    fw_rec_record rec;
    int types[8], n = 0;
    char gap[200] = "";
    while (fw_rec_next(rd, &rec, err, sizeof err) == 1 && n < 8) {
        types[n++] = rec.type;
        if (rec.type == FW_REC_GAP)
            snprintf(gap, sizeof gap, "%s", (const char *)rec.payload);
    }
    fw_rec_close(rd);
    assert_int_equal(n, 3);
    assert_int_equal(types[0], FW_REC_META);
    assert_int_equal(types[1], FW_REC_GAP);
    assert_int_equal(types[2], FW_REC_CLOSE);
    assert_non_null(strstr(gap, "\"lost_records\":3"));
}

/* ---- MJPEG ---- */

static void test_mjpeg_split(void **state)
{
    (void)state;
    char *paths[16];
    int n = tu_list_jpegs(FW_TEST_PHOTO_DIR, paths, 16);
    assert_true(n >= 3);
    uint8_t *jp[16];
    size_t len[16];
    char mj[600];
    snprintf(mj, sizeof mj, "%s/photos.mjpeg", WORK);
    FILE *f = fopen(mj, "wb");
    for (int i = 0; i < n; i++) {
        jp[i] = tu_read_file(paths[i], &len[i]);
        assert_non_null(jp[i]);
        fwrite(jp[i], 1, len[i], f);
    }
    fclose(f);
    f = fopen(mj, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, l;
    char err[200];
    for (int i = 0; i < n; i++) {
        assert_int_equal(fw_mjpeg_next(f, &buf, &cap, &l, 1u << 26, err, sizeof err), 1);
        assert_int_equal(l, len[i]);
        assert_memory_equal(buf, jp[i], l);
    }
    assert_int_equal(fw_mjpeg_next(f, &buf, &cap, &l, 1u << 26, err, sizeof err), 0);
    fclose(f);
    /* The source layer reads the same file as frames 1..n at 30 fps. */
    fw_source *src = fw_source_open(mj, NULL, err, sizeof err);
    assert_non_null(src);
    assert_int_equal(fw_source_get_kind(src), FW_SRC_MJPEG);
    fw_source_frame fr;
    for (int i = 0; i < n; i++) {
        assert_int_equal(fw_source_next(src, &fr, err, sizeof err), 1);
        assert_int_equal(fr.seq, (uint64_t)i + 1);
        assert_int_equal(fr.len, len[i]);
        assert_int_equal(fr.ts_us, (int64_t)(i * 1e6 / 30));
        free(fr.data);
    }
    assert_int_equal(fw_source_next(src, &fr, err, sizeof err), 0);
    fw_source_close(src);
    /* Truncated in the middle of the second frame: the first comes out, then a clear error. */
    f = fopen(mj, "wb");
    fwrite(jp[0], 1, len[0], f);
    fwrite(jp[1], 1, len[1] / 2, f);
    fclose(f);
    f = fopen(mj, "rb");
    assert_int_equal(fw_mjpeg_next(f, &buf, &cap, &l, 1u << 26, err, sizeof err), 1);
    assert_int_equal(fw_mjpeg_next(f, &buf, &cap, &l, 1u << 26, err, sizeof err), -1);
    assert_non_null(strstr(err, "truncated"));
    fclose(f);
    /* A frame over the cap is refused, not stored. */
    f = fopen(paths[0], "rb");
    assert_int_equal(fw_mjpeg_next(f, &buf, &cap, &l, 1000, err, sizeof err), -1);
    assert_non_null(strstr(err, "larger than"));
    fclose(f);
    free(buf);
    for (int i = 0; i < n; i++) {
        free(jp[i]);
        free(paths[i]);
    }
}

/* ---- clock sync, answers, compare ---- */

static void test_clocksync(void **state)
{
    (void)state;
    fw_clocksync c;
    fw_clocksync_init(&c);
    /* Server 5 ms ahead; 1 ms each way, 0.2 ms in the server. */
    assert_int_equal(fw_clocksync_add(&c, 1000000, 1006000, 1006200, 1002200), 1);
    assert_int_equal(c.offset, 5000);
    assert_int_equal(c.rtt, 2000);
    /* A slower exchange (queued uplink) does not replace the better one. */
    assert_int_equal(fw_clocksync_add(&c, 2000000, 2009000, 2009200, 2005200), 0);
    assert_int_equal(c.offset, 5000);
    /* A faster one does. */
    assert_int_equal(fw_clocksync_add(&c, 3000000, 3005300, 3005400, 3000700), 1);
    assert_int_equal(c.rtt, 600);
    assert_int_equal(c.offset, 5000);
    assert_int_equal(c.samples, 3);
}

static void test_answer_parse(void **state)
{
    (void)state;
    fw_answer a;
    char err[200];
    const char *res =
        "{\"type\":\"result\",\"frame_id\":17,\"capture_ts_us\":1764790000123456,"
        "\"top\":[{\"label\":\"red\",\"index\":0,\"prob\":0.612345},{\"label\":\"dark\","
        "\"index\":3,\"prob\":0.2}],\"timing_us\":{\"queue\":45,\"decode\":810,\"preprocess\":95,"
        "\"wait\":12,\"infer\":640,\"total\":1650},\"batch\":2,\"server_rx_ts_us\":"
        "1764790000124000,\"server_tx_ts_us\":1764790000125650}";
    assert_int_equal(fw_answer_parse(res, strlen(res), &a, err, sizeof err), 0);
    assert_int_equal(a.type, FW_SMSG_RESULT);
    assert_int_equal(a.frame_id, 17);
    assert_int_equal(a.capture_us, 1764790000123456ull);
    assert_int_equal(a.ntop, 2);
    assert_string_equal(a.top[1].label, "dark");
    assert_int_equal(a.top[1].index, 3);
    assert_true(fabs(a.top[0].prob - 0.612345) < 1e-12);
    assert_int_equal(a.timing.decode_us, 810);
    assert_int_equal(a.timing.batch_size, 2);
    assert_int_equal(a.server_tx_us - a.server_rx_us, 1650);
    const char *drop = "{\"type\":\"dropped\",\"frame_id\":9,\"reason\":\"superseded\"}";
    assert_int_equal(fw_answer_parse(drop, strlen(drop), &a, err, sizeof err), 0);
    assert_int_equal(a.type, FW_SMSG_DROPPED);
    assert_string_equal(a.code, "superseded");
    const char *bad = "{\"type\":\"result\",\"top\":[]}";
    assert_int_equal(fw_answer_parse(bad, strlen(bad), &a, err, sizeof err), -1);
    assert_int_equal(fw_answer_parse("nope", 4, &a, err, sizeof err), -1);
    /* The tools' output lines keep the server's text exactly, with fields around it. */
    char *s = fwtool_splice_json(drop, strlen(drop), "\"seq\":4", "\"latency_us\":12");
    assert_string_equal(s, "{\"seq\":4,\"type\":\"dropped\",\"frame_id\":9,\"reason\":"
                           "\"superseded\",\"latency_us\":12}");
    free(s);
    s = fwtool_splice_json("{}", 2, "\"seq\":1", NULL);
    assert_string_equal(s, "{\"seq\":1}");
    free(s);
    assert_null(fwtool_splice_json("[1]", 3, "\"a\":1", NULL));
}

static void add_line(fw_rset *s, const char *line)
{
    char err[200];
    assert_int_equal(fw_rset_add_line(s, line, strlen(line), err, sizeof err), 1);
}

static void test_compare(void **state)
{
    (void)state;
    fw_rset *a = fw_rset_new(), *b = fw_rset_new();
#define R(seq, l0, i0, p0, l1, i1, p1)                                                             \
    "{\"seq\":" #seq ",\"type\":\"result\",\"frame_id\":" #seq ",\"top\":[{\"label\":\"" l0        \
    "\",\"index\":" #i0 ",\"prob\":" #p0 "},{\"label\":\"" l1 "\",\"index\":" #i1 ",\"prob\":" #p1 \
    "}]}"
    add_line(a, R(1, "red", 0, 0.6, "dark", 3, 0.3));
    add_line(a, R(2, "green", 1, 0.7, "red", 0, 0.2));
    add_line(a, R(3, "blue", 2, 0.5, "dark", 3, 0.4));
    add_line(a, "{\"seq\":4,\"type\":\"error\",\"frame_id\":4,\"code\":\"not_jpeg\"}");
    /* Identical sets pass with a zero threshold. */
    add_line(b, R(1, "red", 0, 0.6, "dark", 3, 0.3));
    add_line(b, R(2, "green", 1, 0.7, "red", 0, 0.2));
    add_line(b, R(3, "blue", 2, 0.5, "dark", 3, 0.4));
    add_line(b, "{\"seq\":4,\"type\":\"error\",\"frame_id\":4,\"code\":\"not_jpeg\"}");
    fw_cmp_options o = fw_cmp_default_options();
    o.max_prob_diff = 0;
    fw_cmp_report r;
    assert_int_equal(fw_cmp_run(a, b, &o, &r), 0);
    assert_true(r.pass);
    assert_int_equal(r.both, 4);
    assert_int_equal(r.differ, 0);
    fw_cmp_report_free(&r);
    /* A later line for the same seq replaces it: frame 2 moves by 0.05, frame 3 flips. */
    add_line(b, R(2, "green", 1, 0.65, "red", 0, 0.25));
    add_line(b, R(3, "dark", 3, 0.55, "blue", 2, 0.35));
    add_line(b, R(5, "red", 0, 0.9, "dark", 3, 0.1)); /* not in a */
    o = fw_cmp_default_options();
    assert_int_equal(fw_cmp_run(a, b, &o, &r), 0);
    assert_false(r.pass);
    assert_int_equal(r.both, 4);
    assert_int_equal(r.only_new, 1);
    assert_int_equal(r.agree, 3); /* 1, 2 (same top-1), 4 (same error) */
    assert_true(fabs(r.agreement_pct - 75.0) < 1e-9);
    assert_true(fabs(r.max_prob_diff - 0.15) < 1e-9); /* frame 3: dark 0.4 -> 0.55 */
    assert_int_equal(r.max_prob_diff_seq, 3);
    assert_int_equal(r.differ, 3); /* 2 (0.05 > 0.001), 3, 5 */
    assert_int_equal(r.nlisted, 3);
    assert_int_equal(r.listed[0].seq, 2);
    assert_int_equal(r.listed[1].seq, 3);
    assert_non_null(strstr(r.listed[1].why, "blue"));
    assert_int_equal(r.listed[2].seq, 5);
    fw_cmp_report_free(&r);
    /* Loose thresholds: only the missing frame fails it. */
    o.max_prob_diff = 1;
    o.min_agreement_pct = 50;
    assert_int_equal(fw_cmp_run(a, b, &o, &r), 0);
    assert_false(r.pass);
    fw_cmp_report_free(&r);
    fw_rset_free(a);
    fw_rset_free(b);

    /* A realtime camera recording (old) has drops where a lossless replay (new) has results:
     * those frames are not compared, either way round, and do not fail the check; a frame
     * missing from one side still does. */
    a = fw_rset_new();
    b = fw_rset_new();
    add_line(a, R(1, "red", 0, 0.6, "dark", 3, 0.3));
    add_line(a, "{\"seq\":2,\"type\":\"dropped\",\"frame_id\":2,\"reason\":\"superseded\"}");
    add_line(a, R(3, "blue", 2, 0.5, "dark", 3, 0.4));
    add_line(b, R(1, "red", 0, 0.6, "dark", 3, 0.3));
    add_line(b, R(2, "dark", 3, 0.9, "red", 0, 0.1));
    add_line(b, "{\"seq\":3,\"type\":\"dropped\",\"frame_id\":3,\"reason\":\"stale\"}");
    o = fw_cmp_default_options();
    assert_int_equal(fw_cmp_run(a, b, &o, &r), 0);
    assert_true(r.pass);
    assert_int_equal(r.both, 1);
    assert_int_equal(r.dropped, 2);
    assert_int_equal(r.agree, 1);
    assert_int_equal(r.differ, 0);
    fw_cmp_report_free(&r);
    add_line(a, R(4, "red", 0, 0.6, "dark", 3, 0.3)); /* not in b */
    assert_int_equal(fw_cmp_run(a, b, &o, &r), 0);
    assert_false(r.pass);
    assert_int_equal(r.only_old, 1);
    fw_cmp_report_free(&r);
    fw_rset_free(a);
    fw_rset_free(b);
#undef R
}

int main(void)
{
    mkdir(FW_TEST_WORK_DIR, 0755);
    mkdir(WORK, 0755);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_buckets),
        cmocka_unit_test(test_hist_percentiles),
        cmocka_unit_test(test_recording_roundtrip_and_truncation),
        cmocka_unit_test(test_recorder_gap_when_full),
        cmocka_unit_test(test_mjpeg_split),
        cmocka_unit_test(test_clocksync),
        cmocka_unit_test(test_answer_parse),
        cmocka_unit_test(test_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
