/* mcc_early_exit_s8 - the confidence test of an early exit: its int8 softmax output against
 * a threshold in -128..128 (128: never), and the output copied to the model's output when it passes. */
#include <string.h>

#include "mcc.h"

int32_t mcc_early_exit_s8(const int8_t *probs, int32_t classes, int32_t threshold, int8_t *output)
{
    int32_t i;
    int32_t best = -128;
    for (i = 0; i < classes; ++i) {
        if (probs[i] > best) {
            best = probs[i];
        }
    }
    if (best < threshold) {
        return 0;
    }
    if (output != probs) {
        memmove(output, probs, (size_t)classes);
    }
    return 1;
}
