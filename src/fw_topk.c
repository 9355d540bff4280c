/* fw_topk.c - softmax and top-k selection over one output row. */
#include "fw_topk.h"

#include <math.h>

void fw_softmax(float *v, int n)
{
    if (n <= 0)
        return;
    float mx = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] > mx)
            mx = v[i];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        v[i] = expf(v[i] - mx);
        sum += v[i];
    }
    for (int i = 0; i < n; i++)
        v[i] = (float)(v[i] / sum);
}

/* a ranks strictly above b; NaN ranks below everything. */
static int better(float a, float b)
{
    if (a != a)
        return 0;
    if (b != b)
        return 1;
    return a > b;
}

int fw_topk(const float *v, int n, int k, fw_class_score *out)
{
    if (k > n)
        k = n;
    if (k <= 0)
        return 0;
    int m = 0;
    for (int i = 0; i < n; i++) {
        /* Insertion into the sorted prefix out[0..m): k is small. */
        float x = v[i];
        if (m == k && !better(x, out[k - 1].prob))
            continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && better(x, out[j - 1].prob)) {
            out[j] = out[j - 1];
            j--;
        }
        out[j].index = i;
        out[j].prob = x;
    }
    return m;
}
