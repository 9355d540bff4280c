/* fw_report.c - the profiler's table, JSON, CSV and HTML (inline SVG) outputs (see fw_report.h). */
#include "fw_report.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double PCTS[] = {50, 90, 99, 99.9};
static const char *const PCT_NAMES[] = {"p50", "p90", "p99", "p99.9"};
#define NPCTS 4

static double ms(int64_t us)
{
    return (double)us / 1000.0;
}

static const char *loop_name(const fw_step *s)
{
    return s->closed_loop ? "closed" : "open";
}

/* ---- table ---- */

static void table_row(FILE *f, const char *name, const fw_hist *h)
{
    if (!h->total) {
        fprintf(f, "  %-16s %9s\n", name, "-");
        return;
    }
    fprintf(f, "  %-16s", name);
    for (int i = 0; i < NPCTS; i++)
        fprintf(f, " %9.2f", ms(fw_hist_percentile(h, PCTS[i])));
    fprintf(f, " %9.2f %9.2f %9" PRIu64 "\n", ms(h->max), fw_hist_mean(h) / 1000.0, h->total);
}

static void table_step(FILE *f, const fw_step *s, const fw_report *r)
{
    fprintf(f, "framewire-profile: ws://%s:%d/, model %s\n", r->host, r->port,
            s->model[0] ? s->model : "?");
    if (s->closed_loop)
        fprintf(f,
                "  %d stream%s, closed loop (next frame when the answer is in), %s, %.4g s "
                "measured after %.4g s warm-up\n",
                s->streams, s->streams == 1 ? "" : "s", s->policy, s->duration_s, s->warmup_s);
    else
        fprintf(
            f, "  %d stream%s x %.4g fps, %s, open loop, %.4g s measured after %.4g s warm-up\n",
            s->streams, s->streams == 1 ? "" : "s", s->fps, s->policy, s->duration_s, s->warmup_s);
    if (r->frames_desc)
        fprintf(f, "  frames: %s\n", r->frames_desc);
    fprintf(f,
            "frames (whole run)  sent %" PRIu64 ", results %" PRIu64 ", dropped %" PRIu64
            " (superseded %" PRIu64 ", stale %" PRIu64 ", other %" PRIu64 "), errors %" PRIu64
            ", unanswered %" PRIu64 "\n",
            s->sent, s->results, s->dropped_superseded + s->dropped_stale + s->dropped_other,
            s->dropped_superseded, s->dropped_stale, s->dropped_other, s->errors, s->unanswered);
    fprintf(f,
            "measured            sent %" PRIu64 ", results %" PRIu64 ", dropped %" PRIu64
            ", errors %" PRIu64 ", unanswered %" PRIu64 "\n",
            s->m_sent, s->m_results, s->m_dropped, s->m_errors, s->m_unanswered);
    fprintf(f, "throughput          %.1f results/s (offered %.1f frames/s)\n", s->throughput,
            s->offered);
    fprintf(f, "latency (ms)     ");
    for (int i = 0; i < NPCTS; i++)
        fprintf(f, " %9s", PCT_NAMES[i]);
    fprintf(f, " %9s %9s %9s\n", "max", "mean", "count");
    const fw_step_hists *h = s->h;
    table_row(f, s->closed_loop ? "send->answer" : "intended->answer", &h->latency);
    if (!s->closed_loop)
        table_row(f, "  send lag", &h->send_lag);
    table_row(f, "  uplink", &h->uplink);
    table_row(f, "  server", &h->server);
    table_row(f, "    queue", &h->queue);
    table_row(f, "    decode", &h->decode);
    table_row(f, "    preprocess", &h->preprocess);
    table_row(f, "    batch wait", &h->wait);
    table_row(f, "    infer", &h->infer);
    table_row(f, "  downlink", &h->downlink);
    if (s->m_unanswered)
        fprintf(f,
                "note                %" PRIu64 " measured frames were never answered: the latency "
                "rows cover answered frames only,\n                    so the true percentiles "
                "are at least these\n",
                s->m_unanswered);
    if (h->batch.total)
        fprintf(f, "batch size          mean %.2f, p50 %" PRId64 ", max %" PRId64 "\n",
                fw_hist_mean(&h->batch), fw_hist_percentile(&h->batch, 50), h->batch.max);
    if (s->clock_samples)
        fprintf(f, "clock sync          offset %+.3f ms, rtt %.3f ms (best of %d pings)\n",
                ms(s->clock_offset_us), ms(s->clock_rtt_us), s->clock_samples);
    else
        fprintf(f, "clock sync          no pong from the server: uplink/downlink not split\n");
    if (s->have_metrics) {
        double dropped = s->metrics.dropped_superseded + s->metrics.dropped_stale;
        int agree = s->metrics.received == (double)s->sent &&
                    s->metrics.result == (double)s->results &&
                    s->metrics.error == (double)s->errors &&
                    s->metrics.dropped_superseded == (double)s->dropped_superseded &&
                    s->metrics.dropped_stale == (double)s->dropped_stale;
        fprintf(f,
                "server /metrics     received %.0f, result %.0f, error %.0f, dropped %.0f "
                "(superseded %.0f, stale %.0f): %s\n",
                s->metrics.received, s->metrics.result, s->metrics.error, dropped,
                s->metrics.dropped_superseded, s->metrics.dropped_stale,
                agree ? "agrees with the counts above"
                      : "DIFFERS from the counts above (other clients on the server?)");
    }
}

void fw_report_table(FILE *f, const fw_report *r)
{
    if (r->sweep) {
        fprintf(f, "sweep: highest fps per stream with p99 <= %.2f ms and loss <= %.2f%%\n",
                r->p99_target_ms, r->max_loss_pct);
        fprintf(f, "  %10s %10s %10s %10s %8s  %s\n", "fps/stream", "results/s", "p50 ms", "p99 ms",
                "loss %", "");
        for (int i = 0; i < r->nsteps; i++) {
            const fw_step *s = &r->steps[i];
            if (s->error[0]) {
                fprintf(f, "  %10.4g  failed: %s\n", s->fps, s->error);
                continue;
            }
            fprintf(f, "  %10.4g %10.1f %10.2f %10.2f %8.2f  %s\n", s->fps, s->throughput,
                    ms(fw_hist_percentile(&s->h->latency, 50)),
                    ms(fw_hist_percentile(&s->h->latency, 99)), 100 * fw_step_loss(s),
                    s->pass ? "pass" : "FAIL");
        }
        if (r->best >= 0)
            fprintf(f, "sweep result: %.4g fps per stream (%d streams, %.1f results/s)\n\n",
                    r->steps[r->best].fps, r->steps[r->best].streams, r->steps[r->best].throughput);
        else
            fprintf(f, "sweep result: no rate met the target\n\n");
    }
    if (r->detail >= 0 && r->detail < r->nsteps && !r->steps[r->detail].error[0])
        table_step(f, &r->steps[r->detail], r);
}

/* ---- JSON ---- */

static cJSON *hist_json(const fw_hist *h)
{
    if (!h->total)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < NPCTS; i++)
        cJSON_AddNumberToObject(o, PCT_NAMES[i], ms(fw_hist_percentile(h, PCTS[i])));
    cJSON_AddNumberToObject(o, "max", ms(h->max));
    cJSON_AddNumberToObject(o, "min", ms(h->min));
    cJSON_AddNumberToObject(o, "mean", fw_hist_mean(h) / 1000.0);
    cJSON_AddNumberToObject(o, "count", (double)h->total);
    return o;
}

static cJSON *step_json(const fw_step *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "streams", s->streams);
    cJSON_AddNumberToObject(o, "fps_per_stream", s->fps);
    cJSON_AddStringToObject(o, "policy", s->policy);
    cJSON_AddStringToObject(o, "loop", loop_name(s));
    cJSON_AddNumberToObject(o, "warmup_s", s->warmup_s);
    cJSON_AddNumberToObject(o, "duration_s", s->duration_s);
    if (s->error[0]) {
        cJSON_AddStringToObject(o, "error", s->error);
        return o;
    }
    cJSON_AddStringToObject(o, "model", s->model);
    cJSON *c = cJSON_AddObjectToObject(o, "counts");
    cJSON_AddNumberToObject(c, "sent", (double)s->sent);
    cJSON_AddNumberToObject(c, "results", (double)s->results);
    cJSON_AddNumberToObject(c, "errors", (double)s->errors);
    cJSON_AddNumberToObject(c, "dropped_superseded", (double)s->dropped_superseded);
    cJSON_AddNumberToObject(c, "dropped_stale", (double)s->dropped_stale);
    cJSON_AddNumberToObject(c, "dropped_other", (double)s->dropped_other);
    cJSON_AddNumberToObject(c, "unanswered", (double)s->unanswered);
    cJSON *m = cJSON_AddObjectToObject(o, "measured");
    cJSON_AddNumberToObject(m, "sent", (double)s->m_sent);
    cJSON_AddNumberToObject(m, "results", (double)s->m_results);
    cJSON_AddNumberToObject(m, "dropped", (double)s->m_dropped);
    cJSON_AddNumberToObject(m, "errors", (double)s->m_errors);
    cJSON_AddNumberToObject(m, "unanswered", (double)s->m_unanswered);
    cJSON_AddNumberToObject(m, "loss_pct", 100 * fw_step_loss(s));
    cJSON_AddNumberToObject(m, "throughput_fps", s->throughput);
    cJSON_AddNumberToObject(m, "offered_fps", s->offered);
    cJSON_AddItemToObject(o, "latency_ms", hist_json(&s->h->latency));
    cJSON *b = cJSON_AddObjectToObject(o, "breakdown_ms");
    cJSON_AddItemToObject(b, "send_lag", hist_json(&s->h->send_lag));
    cJSON_AddItemToObject(b, "uplink", hist_json(&s->h->uplink));
    cJSON_AddItemToObject(b, "server", hist_json(&s->h->server));
    cJSON_AddItemToObject(b, "queue", hist_json(&s->h->queue));
    cJSON_AddItemToObject(b, "decode", hist_json(&s->h->decode));
    cJSON_AddItemToObject(b, "preprocess", hist_json(&s->h->preprocess));
    cJSON_AddItemToObject(b, "wait", hist_json(&s->h->wait));
    cJSON_AddItemToObject(b, "infer", hist_json(&s->h->infer));
    cJSON_AddItemToObject(b, "downlink", hist_json(&s->h->downlink));
    if (s->h->batch.total) {
        cJSON *bs = cJSON_AddObjectToObject(o, "batch_size");
        cJSON_AddNumberToObject(bs, "mean", fw_hist_mean(&s->h->batch));
        cJSON_AddNumberToObject(bs, "p50", (double)fw_hist_percentile(&s->h->batch, 50));
        cJSON_AddNumberToObject(bs, "max", (double)s->h->batch.max);
    } else {
        cJSON_AddNullToObject(o, "batch_size");
    }
    if (s->clock_samples) {
        cJSON *ck = cJSON_AddObjectToObject(o, "clock");
        cJSON_AddNumberToObject(ck, "offset_ms", ms(s->clock_offset_us));
        cJSON_AddNumberToObject(ck, "rtt_ms", ms(s->clock_rtt_us));
        cJSON_AddNumberToObject(ck, "samples", s->clock_samples);
    } else {
        cJSON_AddNullToObject(o, "clock");
    }
    if (s->have_metrics) {
        cJSON *sm = cJSON_AddObjectToObject(o, "server_metrics");
        cJSON_AddNumberToObject(sm, "received", s->metrics.received);
        cJSON_AddNumberToObject(sm, "result", s->metrics.result);
        cJSON_AddNumberToObject(sm, "error", s->metrics.error);
        cJSON_AddNumberToObject(sm, "dropped_superseded", s->metrics.dropped_superseded);
        cJSON_AddNumberToObject(sm, "dropped_stale", s->metrics.dropped_stale);
        cJSON_AddNumberToObject(sm, "dropped_shutdown", s->metrics.dropped_shutdown);
    } else {
        cJSON_AddNullToObject(o, "server_metrics");
    }
    return o;
}

void fw_report_json(FILE *f, const fw_report *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "tool", "framewire-profile");
    cJSON_AddStringToObject(o, "host", r->host);
    cJSON_AddNumberToObject(o, "port", r->port);
    if (r->frames_desc)
        cJSON_AddStringToObject(o, "frames", r->frames_desc);
    if (r->sweep) {
        cJSON *sw = cJSON_AddObjectToObject(o, "sweep");
        cJSON_AddNumberToObject(sw, "p99_target_ms", r->p99_target_ms);
        cJSON_AddNumberToObject(sw, "max_loss_pct", r->max_loss_pct);
        if (r->best >= 0)
            cJSON_AddNumberToObject(sw, "best_fps_per_stream", r->steps[r->best].fps);
        else
            cJSON_AddNullToObject(sw, "best_fps_per_stream");
        cJSON *arr = cJSON_AddArrayToObject(o, "steps");
        for (int i = 0; i < r->nsteps; i++) {
            cJSON *st = step_json(&r->steps[i]);
            cJSON_AddBoolToObject(st, "pass", r->steps[i].pass);
            cJSON_AddItemToArray(arr, st);
        }
    } else if (r->nsteps > 0) {
        cJSON_AddItemToObject(o, "run", step_json(&r->steps[0]));
    }
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (txt) {
        fputs(txt, f);
        fputc('\n', f);
        cJSON_free(txt);
    }
}

/* ---- CSV ---- */

static void csv_hist(FILE *f, const fw_hist *h)
{
    for (int i = 0; i < NPCTS; i++)
        if (h->total)
            fprintf(f, ",%.3f", ms(fw_hist_percentile(h, PCTS[i])));
        else
            fputs(",", f);
    if (h->total)
        fprintf(f, ",%.3f,%.3f", ms(h->max), fw_hist_mean(h) / 1000.0);
    else
        fputs(",,", f);
}

void fw_report_csv(FILE *f, const fw_report *r)
{
    static const char *const groups[] = {"latency", "uplink",     "server", "downlink", "queue",
                                         "decode",  "preprocess", "wait",   "infer"};
    fputs("streams,fps_per_stream,policy,loop,warmup_s,duration_s,sent,results,errors,"
          "dropped_superseded,dropped_stale,dropped_other,unanswered,m_sent,m_results,"
          "m_dropped,m_errors,m_unanswered,loss_pct,throughput_fps,offered_fps",
          f);
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        fprintf(f, ",%s_p50_ms,%s_p90_ms,%s_p99_ms,%s_p999_ms,%s_max_ms,%s_mean_ms", groups[g],
                groups[g], groups[g], groups[g], groups[g], groups[g]);
    fputs(",batch_mean,clock_offset_ms,clock_rtt_ms,pass,error\n", f);
    for (int i = 0; i < r->nsteps; i++) {
        const fw_step *s = &r->steps[i];
        fprintf(f, "%d,%.6g,%s,%s,%.6g,%.6g", s->streams, s->fps, s->policy, loop_name(s),
                s->warmup_s, s->duration_s);
        if (s->error[0]) {
            fprintf(f, ",,,,,,,,,,,,,,,");
            for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
                fputs(",,,,,,", f);
            fputs(",,,,0,\"", f);
            for (const char *p = s->error; *p; p++)
                fputs(*p == '"' ? "\"\"" : (char[]){*p, 0}, f);
            fputs("\"\n", f);
            continue;
        }
        fprintf(f,
                ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.3f,%.3f,%.3f",
                s->sent, s->results, s->errors, s->dropped_superseded, s->dropped_stale,
                s->dropped_other, s->unanswered, s->m_sent, s->m_results, s->m_dropped, s->m_errors,
                s->m_unanswered, 100 * fw_step_loss(s), s->throughput, s->offered);
        const fw_hist *hs[] = {&s->h->latency,    &s->h->uplink, &s->h->server,
                               &s->h->downlink,   &s->h->queue,  &s->h->decode,
                               &s->h->preprocess, &s->h->wait,   &s->h->infer};
        for (size_t g = 0; g < sizeof hs / sizeof hs[0]; g++)
            csv_hist(f, hs[g]);
        fprintf(f, ",%.3f", fw_hist_mean(&s->h->batch));
        if (s->clock_samples)
            fprintf(f, ",%.3f,%.3f", ms(s->clock_offset_us), ms(s->clock_rtt_us));
        else
            fputs(",,", f);
        fprintf(f, ",%d,\n", r->sweep ? s->pass : 1);
    }
}

/* ---- HTML with inline SVG ---- */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

struct plot {
    FILE *f;
    int w, h, ml, mr, mt, mb;
    double x0, x1, y0, y1;
};

static double px(const struct plot *p, double x)
{
    return p->ml + (x - p->x0) / (p->x1 - p->x0) * (p->w - p->ml - p->mr);
}

static double py(const struct plot *p, double y)
{
    return p->h - p->mb - (y - p->y0) / (p->y1 - p->y0) * (p->h - p->mt - p->mb);
}

static double nice_step(double range, int n)
{
    double raw = range / n;
    double mag = pow(10, floor(log10(raw)));
    static const double m[] = {1, 2, 2.5, 5, 10};
    for (int i = 0; i < 5; i++)
        if (m[i] * mag >= raw)
            return m[i] * mag;
    return 10 * mag;
}

static double nice_max(double v)
{
    if (!(v > 0))
        return 1;
    double st = nice_step(v, 5);
    return ceil(v * 1.05 / st) * st;
}

/* Opens the SVG, draws the frame, y ticks (linear) and the axis titles. */
static void plot_begin(struct plot *p, const char *title, const char *xlabel, const char *ylabel)
{
    FILE *f = p->f;
    fprintf(f,
            "<svg width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
            p->w, p->h, p->w, p->h);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", p->w, p->h);
    fprintf(f, "<text x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"bold\">", p->ml);
    esc(f, title);
    fputs("</text>\n", f);
    double st = nice_step(p->y1 - p->y0, 5);
    for (double y = p->y0; y <= p->y1 + st * 1e-6; y += st) {
        double yy = py(p, y);
        fprintf(f,
                "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                p->ml, p->w - p->mr, yy, yy, p->ml - 6, yy + 4, y);
    }
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n",
            p->ml, p->mt, p->w - p->ml - p->mr, p->h - p->mt - p->mb);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", (p->ml + p->w - p->mr) / 2.0,
            p->h - 6);
    esc(f, xlabel);
    fprintf(f,
            "</text>\n<text transform=\"translate(14,%.1f) rotate(-90)\" "
            "text-anchor=\"middle\">",
            (p->mt + p->h - p->mb) / 2.0);
    esc(f, ylabel);
    fputs("</text>\n", f);
}

static void xtick(const struct plot *p, double x, const char *label)
{
    double xx = px(p, x);
    fprintf(p->f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#e4e4e4\"/>"
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
            xx, xx, p->mt, p->h - p->mb, xx, p->h - p->mb + 16, label);
}

static void linear_xticks(const struct plot *p)
{
    double st = nice_step(p->x1 - p->x0, 8);
    for (double x = ceil(p->x0 / st) * st; x <= p->x1 + st * 1e-6; x += st) {
        char l[32];
        snprintf(l, sizeof l, "%g", x);
        xtick(p, x, l);
    }
}

static void plot_over_time(FILE *f, const fw_step *s)
{
    struct plot p = {f, 900, 320, 60, 20, 30, 40, s->warmup_s, s->warmup_s + s->duration_s, 0, 1};
    if (p.x1 <= p.x0)
        p.x1 = p.x0 + 1;
    double ymax = 0;
    for (size_t i = 0; i < s->nsamples; i++)
        if (s->samples[i].outcome == FW_OUT_RESULT && s->samples[i].latency_ms > ymax)
            ymax = s->samples[i].latency_ms;
    p.y1 = nice_max(ymax);
    plot_begin(&p, "Latency of each frame over time",
               s->closed_loop ? "send time (s)" : "intended send time (s)", "latency (ms)");
    linear_xticks(&p);
    int cols = p.w - p.ml - p.mr;
    if (s->nsamples <= 5000) {
        fputs("<g fill=\"#1f77b4\" fill-opacity=\"0.55\">\n", f);
        for (size_t i = 0; i < s->nsamples; i++)
            if (s->samples[i].outcome == FW_OUT_RESULT)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.8\"/>\n",
                        px(&p, s->samples[i].t_s), py(&p, s->samples[i].latency_ms));
        fputs("</g>\n", f);
    } else {
        /* Many frames: one vertical line per pixel column from its lowest to its highest. */
        float *lo = malloc(sizeof(float) * (size_t)cols),
              *hi = malloc(sizeof(float) * (size_t)cols);
        if (lo && hi) {
            for (int c = 0; c < cols; c++)
                lo[c] = INFINITY, hi[c] = -1;
            for (size_t i = 0; i < s->nsamples; i++) {
                if (s->samples[i].outcome != FW_OUT_RESULT)
                    continue;
                int c = (int)(px(&p, s->samples[i].t_s) - p.ml);
                c = c < 0 ? 0 : c >= cols ? cols - 1 : c;
                float v = s->samples[i].latency_ms;
                lo[c] = v < lo[c] ? v : lo[c];
                hi[c] = v > hi[c] ? v : hi[c];
            }
            fputs("<g stroke=\"#1f77b4\" stroke-width=\"1\">\n", f);
            for (int c = 0; c < cols; c++)
                if (hi[c] >= 0)
                    fprintf(f, "<line x1=\"%d.5\" x2=\"%d.5\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
                            p.ml + c, p.ml + c, py(&p, lo[c]) + 0.5, py(&p, hi[c]) - 0.5);
            fputs("</g>\n", f);
        }
        free(lo);
        free(hi);
    }
    /* Frames without a result: red ticks along the bottom. */
    fputs("<g stroke=\"#d62728\" stroke-width=\"1\">\n", f);
    int last = -1;
    for (size_t i = 0; i < s->nsamples; i++) {
        if (s->samples[i].outcome == FW_OUT_RESULT)
            continue;
        int x = (int)px(&p, s->samples[i].t_s);
        if (x == last)
            continue;
        last = x;
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>\n", x, x, p.h - p.mb - 8,
                p.h - p.mb);
    }
    fputs("</g>\n</svg>\n", f);
}

static void plot_percentiles(FILE *f, const fw_step *s)
{
    const fw_hist *h = &s->h->latency;
    /* Up to the percentile that the sample count still resolves (100 frames: 99%). */
    double xmax = h->total > 1 ? ceil(log10((double)h->total) - 1e-9) : 1;
    if (xmax > 5)
        xmax = 5;
    if (xmax < 1)
        xmax = 1;
    struct plot p = {f, 900, 320, 60, 20, 30, 40, 0, xmax, 0, nice_max(ms(h->max))};
    plot_begin(&p, "Latency by percentile", "percentile", "latency (ms)");
    static const char *const labels[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    for (int i = 0; i <= (int)floor(xmax + 1e-9) && i < 6; i++)
        xtick(&p, i, labels[i]);
    fputs("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"", f);
    for (int i = 0; i <= 300; i++) {
        double x = xmax * i / 300.0;
        double q = 100.0 * (1.0 - pow(10, -x));
        fprintf(f, "%.1f,%.1f ", px(&p, x), py(&p, ms(fw_hist_percentile(h, q))));
    }
    fputs("\"/>\n", f);
    for (int i = 0; i < NPCTS; i++) {
        double x = -log10(1 - PCTS[i] / 100.0);
        if (x > xmax + 1e-9)
            continue;
        double v = ms(fw_hist_percentile(h, PCTS[i]));
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#ff7f0e\"/>"
                "<text x=\"%.1f\" y=\"%.1f\">%s %.2f ms</text>\n",
                px(&p, x), py(&p, v), px(&p, x) + 6, py(&p, v) - 6, PCT_NAMES[i], v);
    }
    fputs("</svg>\n", f);
}

static void plot_sweep(FILE *f, const fw_report *r)
{
    double xmax = 0, ymax = r->p99_target_ms;
    for (int i = 0; i < r->nsteps; i++) {
        const fw_step *s = &r->steps[i];
        if (s->error[0])
            continue;
        xmax = s->fps > xmax ? s->fps : xmax;
        double v = ms(fw_hist_percentile(&s->h->latency, 99));
        ymax = v > ymax ? v : ymax;
    }
    if (ymax > 5 * r->p99_target_ms)
        ymax = 5 * r->p99_target_ms; /* keep the target readable; higher points sit on the top */
    struct plot p = {f, 900, 320, 60, 20, 30, 40, 0, nice_max(xmax), 0, nice_max(ymax)};
    plot_begin(&p, "Sweep: p99 latency by rate", "frames per second per stream",
               "p99 latency (ms)");
    linear_xticks(&p);
    fprintf(f,
            "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" "
            "stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"%.1f\" fill=\"#d62728\" "
            "text-anchor=\"end\">target %.2f ms</text>\n",
            p.ml, p.w - p.mr, py(&p, r->p99_target_ms), py(&p, r->p99_target_ms), p.w - p.mr - 4,
            py(&p, r->p99_target_ms) - 5, r->p99_target_ms);
    for (int i = 0; i < r->nsteps; i++) {
        const fw_step *s = &r->steps[i];
        if (s->error[0])
            continue;
        double v = ms(fw_hist_percentile(&s->h->latency, 99));
        if (v > p.y1)
            v = p.y1;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", px(&p, s->fps),
                py(&p, v), s->pass ? "#2ca02c" : "#d62728");
    }
    fputs("</svg>\n", f);
}

static void html_hist_row(FILE *f, const char *name, const fw_hist *h)
{
    fprintf(f, "<tr><th>%s</th>", name);
    if (!h->total) {
        fputs("<td colspan=\"7\">-</td></tr>\n", f);
        return;
    }
    for (int i = 0; i < NPCTS; i++)
        fprintf(f, "<td>%.2f</td>", ms(fw_hist_percentile(h, PCTS[i])));
    fprintf(f, "<td>%.2f</td><td>%.2f</td><td>%" PRIu64 "</td></tr>\n", ms(h->max),
            fw_hist_mean(h) / 1000.0, h->total);
}

void fw_report_html(FILE *f, const fw_report *r)
{
    fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>framewire latency report</title>\n<style>\n"
          "body{font-family:sans-serif;margin:24px;color:#222;max-width:960px}\n"
          "table{border-collapse:collapse;margin:8px 0 16px}\n"
          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\n"
          "th{background:#f4f4f4}\n td.l,th.l{text-align:left}\n"
          "svg{display:block;margin:8px 0 20px;border:1px solid #ddd}\n"
          ".pass{color:#2ca02c}.fail{color:#d62728}\n</style></head><body>\n",
          f);
    fputs("<h1>framewire latency report</h1>\n<p>Server <code>ws://", f);
    esc(f, r->host);
    fprintf(f, ":%d/</code>", r->port);
    const fw_step *d = r->detail >= 0 && r->detail < r->nsteps && !r->steps[r->detail].error[0]
                           ? &r->steps[r->detail]
                           : NULL;
    if (d) {
        fputs(", model <b>", f);
        esc(f, d->model);
        fputs("</b>", f);
    }
    if (r->frames_desc) {
        fputs(". Frames: ", f);
        esc(f, r->frames_desc);
    }
    fputs(".</p>\n", f);
    if (r->sweep) {
        fprintf(f,
                "<h2>Sweep</h2><p>Highest rate per stream whose p99 latency is at most %.2f ms "
                "with at most %.2f%% of frames lost: ",
                r->p99_target_ms, r->max_loss_pct);
        if (r->best >= 0)
            fprintf(f, "<b class=\"pass\">%.4g fps per stream</b> (%d streams, %.1f results/s).",
                    r->steps[r->best].fps, r->steps[r->best].streams, r->steps[r->best].throughput);
        else
            fputs("<b class=\"fail\">none of the rates tried</b>.", f);
        fputs("</p>\n", f);
        plot_sweep(f, r);
        fputs("<table><tr><th>fps/stream</th><th>results/s</th><th>p50 ms</th><th>p99 ms</th>"
              "<th>loss %</th><th class=\"l\">verdict</th></tr>\n",
              f);
        for (int i = 0; i < r->nsteps; i++) {
            const fw_step *s = &r->steps[i];
            if (s->error[0]) {
                fprintf(f, "<tr><td>%.4g</td><td colspan=\"5\" class=\"l\">", s->fps);
                esc(f, s->error);
                fputs("</td></tr>\n", f);
                continue;
            }
            fprintf(f,
                    "<tr><td>%.4g</td><td>%.1f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
                    "<td class=\"l %s\">%s</td></tr>\n",
                    s->fps, s->throughput, ms(fw_hist_percentile(&s->h->latency, 50)),
                    ms(fw_hist_percentile(&s->h->latency, 99)), 100 * fw_step_loss(s),
                    s->pass ? "pass" : "fail", s->pass ? "pass" : "fail");
        }
        fputs("</table>\n", f);
    }
    if (!d) {
        fputs("<p>No run completed.</p></body></html>\n", f);
        return;
    }
    char rate[64];
    if (d->closed_loop)
        snprintf(rate, sizeof rate, "as fast as answers come");
    else
        snprintf(rate, sizeof rate, "&times; %.4g fps", d->fps);
    fprintf(f,
            "<h2>%s%d stream%s %s, %s, %s loop</h2>\n<p>%.4g s measured after "
            "%.4g s warm-up. Latency is measured from each frame's %s to its answer.</p>\n",
            r->sweep ? "Details at " : "", d->streams, d->streams == 1 ? "" : "s", rate, d->policy,
            loop_name(d), d->duration_s, d->warmup_s,
            d->closed_loop ? "actual send (closed loop: the naive measurement)"
                           : "intended send time (open loop)");
    fprintf(f,
            "<table><tr><th class=\"l\">frames</th><th>sent</th><th>results</th><th>dropped</th>"
            "<th>errors</th><th>unanswered</th><th>results/s</th></tr>\n"
            "<tr><th class=\"l\">whole run</th><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
            "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td></td></tr>\n"
            "<tr><th class=\"l\">measured</th><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
            "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%.1f</td></tr></table>\n",
            d->sent, d->results, d->dropped_superseded + d->dropped_stale + d->dropped_other,
            d->errors, d->unanswered, d->m_sent, d->m_results, d->m_dropped, d->m_errors,
            d->m_unanswered, d->throughput);
    plot_over_time(f, d);
    plot_percentiles(f, d);
    fputs("<table><tr><th class=\"l\">ms</th>", f);
    for (int i = 0; i < NPCTS; i++)
        fprintf(f, "<th>%s</th>", PCT_NAMES[i]);
    fputs("<th>max</th><th>mean</th><th>count</th></tr>\n", f);
    html_hist_row(f, "latency", &d->h->latency);
    if (!d->closed_loop)
        html_hist_row(f, "send lag", &d->h->send_lag);
    html_hist_row(f, "uplink", &d->h->uplink);
    html_hist_row(f, "server", &d->h->server);
    html_hist_row(f, "queue", &d->h->queue);
    html_hist_row(f, "decode", &d->h->decode);
    html_hist_row(f, "preprocess", &d->h->preprocess);
    html_hist_row(f, "batch wait", &d->h->wait);
    html_hist_row(f, "infer", &d->h->infer);
    html_hist_row(f, "downlink", &d->h->downlink);
    fputs("</table>\n", f);
    if (d->h->batch.total)
        fprintf(f, "<p>Batch size: mean %.2f, max %" PRId64 ".</p>\n", fw_hist_mean(&d->h->batch),
                d->h->batch.max);
    if (d->clock_samples)
        fprintf(f, "<p>Clock sync: offset %+.3f ms, rtt %.3f ms (best of %d pings).</p>\n",
                ms(d->clock_offset_us), ms(d->clock_rtt_us), d->clock_samples);
    if (d->have_metrics)
        fprintf(f,
                "<p>Server <code>/metrics</code> over the run: received %.0f, result %.0f, error "
                "%.0f, dropped superseded %.0f, dropped stale %.0f.</p>\n",
                d->metrics.received, d->metrics.result, d->metrics.error,
                d->metrics.dropped_superseded, d->metrics.dropped_stale);
    fputs("</body></html>\n", f);
}
