/* Errors: a status to test, a name for it, and a message that says what was wrong. */
#include <stdio.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"

int main(void) {
    cnn_net net;
    cnn_net_opts mnist = { .channels = 1, .height = 28, .width = 28 };
    cnn_conv_opts c32 = { .filters = 32 }, c30x30 = { .filters = 64, .kernel = 30 };
    cnn_status st;

    cnn_net_init(&net, &mnist);
    cnn_add_conv(&net, &c32);                         /* 28x28 -> 32 x 26 x 26 */
    st = cnn_add_conv(&net, &c30x30);                 /* a 30x30 kernel does not fit in 26x26 */
    printf("%s\n%s\n", cnn_status_name(st), cnn_last_error());
    st = cnn_net_build(&net, NULL);                   /* the network is marked invalid */
    printf("%s\n%s\n", cnn_status_name(st), cnn_last_error());
    st = cnn_load(&net, "no-such-file.cnn", NULL);
    printf("%s\n%s\n", cnn_status_name(st), cnn_last_error());
    return 0;
}
