/* fw_topk.h - turn a model's output row into probabilities and the k best classes.
 * Pure functions: safe from any thread. */
#ifndef FW_TOPK_H
#define FW_TOPK_H

typedef struct fw_class_score {
    int index;
    float prob;
} fw_class_score;

/* In-place numerically stable softmax over n values. */
void fw_softmax(float *v, int n);

/* Writes the min(k, n) highest of v[0..n) into out, highest first (ties: lower index first).
 * Returns the number written. */
int fw_topk(const float *v, int n, int k, fw_class_score *out);

#endif /* FW_TOPK_H */
