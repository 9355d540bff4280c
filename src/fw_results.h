/* fw_results.h - sets of per-frame answers read from JSON lines (the replay tool's output, or a
 * recording's answers), and the comparison behind `framewire-replay --compare`: top-1 agreement,
 * the largest probability difference and the frames that differ.
 *
 * A line is a server answer (result, error or dropped; docs/protocol.md) with a "seq" field: the
 * 1-based position of the frame in its input, which is what two runs over the same input share.
 * Lines without "seq" or of other types are skipped. Memory: a few dozen bytes per frame plus its
 * top classes.
 *
 * Pure data: one owner per set. */
#ifndef FW_RESULTS_H
#define FW_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fw_answer.h"

typedef struct fw_rset fw_rset;

fw_rset *fw_rset_new(void);
void fw_rset_free(fw_rset *s);

/* Adds the answer for frame seq (replacing an earlier one for the same seq). 0, or -1 when out of
 * memory. */
int fw_rset_add(fw_rset *s, uint64_t seq, const fw_answer *a);

/* Adds one JSON line. Returns 1 when added, 0 when skipped (no seq, or not an answer), -1 with a
 * reason in err when the line is not JSON. */
int fw_rset_add_line(fw_rset *s, const char *line, size_t len, char *err, size_t errlen);

/* Reads a JSON-lines file. 0, or -1 with "path:line: reason" in err. */
int fw_rset_load_jsonl(fw_rset *s, const char *path, char *err, size_t errlen);

size_t fw_rset_count(fw_rset *s); /* distinct frames */

typedef struct fw_cmp_options {
    double max_prob_diff;     /* a frame whose probabilities move more than this differs */
    double min_agreement_pct; /* the check fails below this top-1 agreement (0..100) */
    int max_listed;           /* differing frames kept in the report (the count is complete) */
} fw_cmp_options;

fw_cmp_options fw_cmp_default_options(void); /* 1e-3, 100, 20 */

typedef struct fw_cmp_diff {
    uint64_t seq;
    char why[160]; /* e.g. "top-1 red (0.61) -> dark (0.52)", "result -> error truncated_jpeg" */
    double prob_diff;
} fw_cmp_diff;

typedef struct fw_cmp_report {
    size_t old_frames, new_frames;
    size_t both;          /* frames answered (result or error) in both sets: the compared ones */
    size_t dropped;       /* frames in both sets, dropped in at least one: not compared */
    size_t only_old;      /* missing from the new set */
    size_t only_new;      /* missing from the old set */
    size_t agree;         /* same top-1 class, or the same error code */
    double agreement_pct; /* agree / both * 100 (100 when both is 0) */
    double max_prob_diff; /* largest |p_new - p_old| of a class listed in both answers */
    uint64_t max_prob_diff_seq;
    size_t differ; /* frames that differ: top-1, outcome, probability past the threshold, missing */
    fw_cmp_diff *listed; /* the first max_listed of them, by seq */
    size_t nlisted;
    int pass; /* no frame missing, agreement >= min, max_prob_diff <= max */
} fw_cmp_report;

/* Compares new against old. 0, or -1 when out of memory. Free with fw_cmp_report_free. */
int fw_cmp_run(fw_rset *old_set, fw_rset *new_set, const fw_cmp_options *opt, fw_cmp_report *out);
void fw_cmp_report_free(fw_cmp_report *r);

/* Writes the report for people (a few lines and the listed frames). */
void fw_cmp_print(FILE *f, const fw_cmp_report *r, const fw_cmp_options *opt);

/* Writes the report as one JSON object (no newline). */
void fw_cmp_print_json(FILE *f, const fw_cmp_report *r, const fw_cmp_options *opt);

#endif /* FW_RESULTS_H */
