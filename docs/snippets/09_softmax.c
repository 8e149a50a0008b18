/* Softmax turns the last layer's scores (logits) into probabilities; cross-entropy measures
   how little probability went to the true class. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    const float logits[3] = { 2.0f, 1.0f, 0.1f };
    const int32_t label[1] = { 0 };                   /* the true class */
    float p[3], loss, grad[3];
    int i;

    if (cnn_softmax(1, 3, logits, p) != CNN_OK) { fprintf(stderr, "%s\n", cnn_last_error()); return 1; }
    printf("probabilities: %.3f %.3f %.3f (sum %.3f)\n", p[0], p[1], p[2], p[0] + p[1] + p[2]);

    /* loss = -log p[label]; its gradient with respect to the logits is p - onehot(label) */
    if (cnn_softmax_cross_entropy(1, 3, logits, label, &loss, grad) != CNN_OK) {
        fprintf(stderr, "%s\n", cnn_last_error());
        return 1;
    }
    printf("cross-entropy for class 0: %.3f\n", loss);
    printf("gradient:");
    for (i = 0; i < 3; i++) printf(" %.3f", grad[i]);
    printf("\n");
    return 0;
}
