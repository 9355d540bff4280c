/* fw_results.c - answer sets from JSON lines and their comparison (see fw_results.h). */
#include "fw_results.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct rentry {
    uint64_t seq;
    size_t order; /* insertion order: the last answer for a seq wins */
    fw_smsg_type type;
    char code[40];
    char label1[FW_ANSWER_LABEL_MAX]; /* top-1 label, for reports */
    int ntop;
    int *index;
    double *prob;
};

struct fw_rset {
    struct rentry *e;
    size_t n, cap;
    size_t added;
    int normalized;
};

fw_rset *fw_rset_new(void)
{
    return calloc(1, sizeof(fw_rset));
}

void fw_rset_free(fw_rset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].index);
        free(s->e[i].prob);
    }
    free(s->e);
    free(s);
}

int fw_rset_add(fw_rset *s, uint64_t seq, const fw_answer *a)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        struct rentry *n = realloc(s->e, ncap * sizeof *n);
        if (!n)
            return -1;
        s->e = n;
        s->cap = ncap;
    }
    struct rentry *r = &s->e[s->n];
    memset(r, 0, sizeof *r);
    r->seq = seq;
    r->order = s->added++;
    r->type = a->type;
    snprintf(r->code, sizeof r->code, "%s", a->code);
    if (a->type == FW_SMSG_RESULT && a->ntop > 0) {
        r->index = malloc((size_t)a->ntop * sizeof *r->index);
        r->prob = malloc((size_t)a->ntop * sizeof *r->prob);
        if (!r->index || !r->prob) {
            free(r->index);
            free(r->prob);
            return -1;
        }
        for (int i = 0; i < a->ntop; i++) {
            r->index[i] = a->top[i].index;
            r->prob[i] = a->top[i].prob;
        }
        r->ntop = a->ntop;
        snprintf(r->label1, sizeof r->label1, "%s", a->top[0].label[0] ? a->top[0].label : "?");
    }
    s->n++;
    s->normalized = 0;
    return 0;
}

int fw_rset_add_line(fw_rset *s, const char *line, size_t len, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(line, len);
    if (!root) {
        snprintf(err, errlen, "not JSON");
        return -1;
    }
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(root, "seq");
    int ok = cJSON_IsNumber(seq) && seq->valuedouble >= 0;
    uint64_t sq = ok ? (uint64_t)seq->valuedouble : 0;
    cJSON_Delete(root);
    if (!ok)
        return 0;
    fw_answer *a = malloc(sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    char why[160];
    if (fw_answer_parse(line, len, a, why, sizeof why) == 0 &&
        (a->type == FW_SMSG_RESULT || a->type == FW_SMSG_ERROR || a->type == FW_SMSG_DROPPED)) {
        if (fw_rset_add(s, sq, a) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        } else {
            rc = 1;
        }
    } else if (a->type == FW_SMSG_RESULT) {
        snprintf(err, errlen, "%s", why);
        rc = -1;
    }
    free(a);
    return rc;
}

int fw_rset_load_jsonl(fw_rset *s, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0)
            continue;
        char why[200];
        if (fw_rset_add_line(s, line, (size_t)n, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%ld: %s", path, lineno, why);
            rc = -1;
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

static int by_seq(const void *a, const void *b)
{
    const struct rentry *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts by seq and keeps the last answer of each seq. */
static void normalize(fw_rset *s)
{
    if (s->normalized)
        return;
    qsort(s->e, s->n, sizeof *s->e, by_seq);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (w > 0 && s->e[w - 1].seq == s->e[i].seq) {
            free(s->e[w - 1].index);
            free(s->e[w - 1].prob);
            s->e[w - 1] = s->e[i];
        } else {
            s->e[w++] = s->e[i];
        }
    }
    s->n = w;
    s->normalized = 1;
}

size_t fw_rset_count(fw_rset *s)
{
    normalize(s);
    return s->n;
}

fw_cmp_options fw_cmp_default_options(void)
{
    return (fw_cmp_options){.max_prob_diff = 1e-3, .min_agreement_pct = 100.0, .max_listed = 20};
}

static const char *outcome(const struct rentry *e)
{
    return fw_answer_type_name(e->type);
}

/* Largest |p_new - p_old| over classes present in both top lists; -1 when none is shared. */
static double prob_diff(const struct rentry *a, const struct rentry *b)
{
    double m = -1;
    for (int i = 0; i < a->ntop; i++)
        for (int j = 0; j < b->ntop; j++)
            if (a->index[i] == b->index[j]) {
                double d = fabs(a->prob[i] - b->prob[j]);
                if (d > m)
                    m = d;
            }
    return m;
}

static int list_diff(fw_cmp_report *r, const fw_cmp_options *opt, uint64_t seq, double pd,
                     const char *why)
{
    r->differ++;
    if ((int)r->nlisted >= opt->max_listed)
        return 0;
    fw_cmp_diff *n = realloc(r->listed, (r->nlisted + 1) * sizeof *n);
    if (!n)
        return -1;
    r->listed = n;
    fw_cmp_diff *d = &r->listed[r->nlisted++];
    d->seq = seq;
    d->prob_diff = pd;
    snprintf(d->why, sizeof d->why, "%s", why);
    return 0;
}

static int compare_one(fw_cmp_report *r, const fw_cmp_options *opt, const struct rentry *o,
                       const struct rentry *n)
{
    char why[160];
    if (o->type == FW_SMSG_DROPPED || n->type == FW_SMSG_DROPPED) {
        /* A drop is the stream policy's choice (superseded, stale, shutdown), not the model's
         * answer: a camera recording made in realtime mode has them where a lossless replay has
         * results. Such a frame says nothing about the model, either way. */
        r->dropped++;
        return 0;
    }
    r->both++;
    if (o->type != n->type || (o->type != FW_SMSG_RESULT && strcmp(o->code, n->code) != 0)) {
        snprintf(why, sizeof why, "%s%s%s -> %s%s%s", outcome(o), o->code[0] ? " " : "", o->code,
                 outcome(n), n->code[0] ? " " : "", n->code);
        return list_diff(r, opt, o->seq, 0, why);
    }
    if (o->type != FW_SMSG_RESULT) {
        r->agree++;
        return 0;
    }
    int same_top1 = o->ntop > 0 && n->ntop > 0 && o->index[0] == n->index[0];
    double pd = prob_diff(o, n);
    if (pd > r->max_prob_diff) {
        r->max_prob_diff = pd;
        r->max_prob_diff_seq = o->seq;
    }
    if (same_top1)
        r->agree++;
    if (same_top1 && pd <= opt->max_prob_diff)
        return 0;
    if (!same_top1)
        snprintf(why, sizeof why, "top-1 %s (%.6f) -> %s (%.6f)", o->label1,
                 o->ntop ? o->prob[0] : 0.0, n->label1, n->ntop ? n->prob[0] : 0.0);
    else
        snprintf(why, sizeof why, "top-1 %s, probability moved by %.6f (%.6f -> %.6f)", o->label1,
                 pd, o->prob[0], n->prob[0]);
    return list_diff(r, opt, o->seq, pd < 0 ? 0 : pd, why);
}

int fw_cmp_run(fw_rset *old_set, fw_rset *new_set, const fw_cmp_options *opt, fw_cmp_report *out)
{
    memset(out, 0, sizeof *out);
    normalize(old_set);
    normalize(new_set);
    out->old_frames = old_set->n;
    out->new_frames = new_set->n;
    size_t i = 0, j = 0;
    while (i < old_set->n || j < new_set->n) {
        const struct rentry *o = i < old_set->n ? &old_set->e[i] : NULL;
        const struct rentry *n = j < new_set->n ? &new_set->e[j] : NULL;
        int rc;
        if (o && n && o->seq == n->seq) {
            rc = compare_one(out, opt, o, n);
            i++;
            j++;
        } else if (o && (!n || o->seq < n->seq)) {
            out->only_old++;
            rc = list_diff(out, opt, o->seq, 0, "missing from the new results");
            i++;
        } else {
            out->only_new++;
            rc = list_diff(out, opt, n->seq, 0, "missing from the old results");
            j++;
        }
        if (rc != 0)
            return -1;
    }
    out->agreement_pct = out->both ? 100.0 * (double)out->agree / (double)out->both : 100.0;
    if (out->max_prob_diff < 0)
        out->max_prob_diff = 0;
    out->pass = out->only_old == 0 && out->only_new == 0 &&
                out->agreement_pct >= opt->min_agreement_pct &&
                out->max_prob_diff <= opt->max_prob_diff;
    return 0;
}

void fw_cmp_report_free(fw_cmp_report *r)
{
    free(r->listed);
    r->listed = NULL;
    r->nlisted = 0;
}

void fw_cmp_print(FILE *f, const fw_cmp_report *r, const fw_cmp_options *opt)
{
    fprintf(f, "compare: %zu frames in both (old %zu, new %zu; missing: %zu new, %zu old)\n",
            r->both, r->old_frames, r->new_frames, r->only_old, r->only_new);
    if (r->dropped)
        fprintf(f, "compare: %zu frames not compared: dropped by the stream policy in old or new\n",
                r->dropped);
    fprintf(f, "compare: top-1 agreement %.2f%% (%zu of %zu; minimum %.2f%%)\n", r->agreement_pct,
            r->agree, r->both, opt->min_agreement_pct);
    if (r->max_prob_diff_seq)
        fprintf(f, "compare: largest probability difference %.6f (frame %" PRIu64 "; maximum %g)\n",
                r->max_prob_diff, r->max_prob_diff_seq, opt->max_prob_diff);
    else
        fprintf(f, "compare: largest probability difference %.6f (maximum %g)\n", r->max_prob_diff,
                opt->max_prob_diff);
    fprintf(f, "compare: %zu frames differ%s\n", r->differ, r->differ ? ":" : "");
    for (size_t i = 0; i < r->nlisted; i++)
        fprintf(f, "  frame %" PRIu64 ": %s\n", r->listed[i].seq, r->listed[i].why);
    if (r->differ > r->nlisted)
        fprintf(f, "  ... and %zu more\n", r->differ - r->nlisted);
    fprintf(f, "compare: %s\n", r->pass ? "PASS" : "FAIL");
}

void fw_cmp_print_json(FILE *f, const fw_cmp_report *r, const fw_cmp_options *opt)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "old_frames", (double)r->old_frames);
    cJSON_AddNumberToObject(o, "new_frames", (double)r->new_frames);
    cJSON_AddNumberToObject(o, "both", (double)r->both);
    cJSON_AddNumberToObject(o, "dropped", (double)r->dropped);
    cJSON_AddNumberToObject(o, "missing_new", (double)r->only_old);
    cJSON_AddNumberToObject(o, "missing_old", (double)r->only_new);
    cJSON_AddNumberToObject(o, "top1_agree", (double)r->agree);
    cJSON_AddNumberToObject(o, "top1_agreement_pct", r->agreement_pct);
    cJSON_AddNumberToObject(o, "max_prob_diff", r->max_prob_diff);
    cJSON_AddNumberToObject(o, "max_prob_diff_seq", (double)r->max_prob_diff_seq);
    cJSON_AddNumberToObject(o, "differ", (double)r->differ);
    cJSON *arr = cJSON_AddArrayToObject(o, "frames");
    for (size_t i = 0; i < r->nlisted; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "seq", (double)r->listed[i].seq);
        cJSON_AddStringToObject(d, "why", r->listed[i].why);
        cJSON_AddNumberToObject(d, "prob_diff", r->listed[i].prob_diff);
        cJSON_AddItemToArray(arr, d);
    }
    cJSON_AddNumberToObject(o, "threshold_max_prob_diff", opt->max_prob_diff);
    cJSON_AddNumberToObject(o, "threshold_min_agreement_pct", opt->min_agreement_pct);
    cJSON_AddBoolToObject(o, "pass", r->pass);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s) {
        fputs(s, f);
        cJSON_free(s);
    }
}
