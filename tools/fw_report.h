/* fw_report.h - the profiler's outputs: a table for people, JSON, CSV (one row per run), and a
 * self-contained HTML report whose plots (latency over time, percentile curve, and the sweep) are
 * inline SVG drawn here: no script, no network, renders anywhere (headless Chromium included).
 * Pure output functions. */
#ifndef FW_REPORT_H
#define FW_REPORT_H

#include <stdio.h>

#include "fw_loadgen.h"

typedef struct fw_report {
    const char *host;
    int port;
    const char *frames_desc; /* what was sent, e.g. "synthetic 640x480 JPEG (31 KB)" */
    fw_step *steps;          /* one per run; a sweep has several, in the order they ran */
    int nsteps;
    int sweep;
    double p99_target_ms; /* sweep */
    double max_loss_pct;  /* sweep: dropped + errors + unanswered allowed, % of measured sends */
    int best;             /* sweep: the step with the highest passing fps, -1 if none */
    int detail;           /* the step whose details are shown (best, or the single run) */
} fw_report;

void fw_report_table(FILE *f, const fw_report *r);
void fw_report_json(FILE *f, const fw_report *r);
void fw_report_csv(FILE *f, const fw_report *r);
void fw_report_html(FILE *f, const fw_report *r);

#endif /* FW_REPORT_H */
