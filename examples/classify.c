/* classify.c - which digit is in your picture? Runs the digit model `make demo` saves on an
   image file of your own: a photo or scan of a handwritten digit, PNG or JPEG (or BMP, GIF,
   PGM: whatever stb_image reads), any size, colour or grey, dark ink on light paper or the
   other way round.

       build/examples/classify out/mnist.cnn my_digit.jpg
       build/examples/classify out/mnist.cnn my_digit.png --save out/my_digit_28x28.png

   The picture is prepared as MNIST's digits were (examples/digit_image.h: inverted if the
   background is light, the digit fitted in 20x20 keeping its aspect ratio, centred by mass in
   28x28); --save writes that 28x28 image, to see what the network sees. Prints the three most
   likely classes with their probabilities.

   Images are read by stb_image and written by stb_image_write (Debian: libstb-dev, headers in
   /usr/include/stb; `make demo` installs it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define CNN_IMPLEMENTATION
#include "cnn.h"
#define STB_IMAGE_IMPLEMENTATION
#include "stb_image.h"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"
#include "examples/digit_image.h"

int main(int argc, char **argv) {
    const char *model_path, *image_path, *save_path = NULL;
    float *grey = NULL, *work = NULL, digit[DIGIT_SIZE * DIGIT_SIZE], probs[64];
    unsigned char *pixels, bytes[DIGIT_SIZE * DIGIT_SIZE];
    int width, height, channels, classes, i, k, best[3], rc = 1;
    size_t p, count;
    cnn_build_opts build;
    cnn_net net;
    char err[256];
    if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--save") == 0)) {
        fprintf(stderr, "usage: classify model.cnn image.(png|jpg|...) [--save prepared.png]\n");
        return 2;
    }
    model_path = argv[1];
    image_path = argv[2];
    if (argc == 5) save_path = argv[4];

    memset(&build, 0, sizeof build);
    build.max_batch = 1;
    build.inference_only = 1;
    memset(&net, 0, sizeof net);
    if (cnn_load(&net, model_path, &build)) {
        fprintf(stderr, "classify: %s\n", cnn_last_error());
        return 1;
    }
    classes = cnn_net_output_size(&net);
    if (net.in_c != 1 || net.in_h != DIGIT_SIZE || net.in_w != DIGIT_SIZE || classes < 3 || classes > 64) {
        fprintf(stderr, "classify: %s takes %dx%dx%d images into %d classes; expected a digit model (1x28x28 into 3 to 64 classes)\n",
                model_path, net.in_c, net.in_h, net.in_w, classes);
        goto done;
    }

    /* Any format, any channels: ask for grey + alpha, and put transparent parts on white. */
    pixels = stbi_load(image_path, &width, &height, &channels, 2);
    if (!pixels) {
        fprintf(stderr, "classify: cannot read '%s': %s\n", image_path, stbi_failure_reason());
        goto done;
    }
    count = (size_t)width * height;
    grey = (float *)malloc(count * sizeof *grey);
    work = (float *)malloc(count * sizeof *work);
    if (!grey || !work) {
        fprintf(stderr, "classify: out of memory for a %dx%d image\n", width, height);
        stbi_image_free(pixels);
        goto done;
    }
    for (p = 0; p < count; p++) {
        float value = pixels[2 * p] / 255.0f, alpha = pixels[2 * p + 1] / 255.0f;
        grey[p] = alpha * value + (1.0f - alpha);
    }
    stbi_image_free(pixels);
    if (digit_prepare(grey, width, height, work, digit, err, sizeof err) != 0) {
        fprintf(stderr, "classify: %s: %s\n", image_path, err);
        goto done;
    }
    if (save_path) {
        for (i = 0; i < DIGIT_SIZE * DIGIT_SIZE; i++) bytes[i] = (unsigned char)(digit[i] * 255.0f + 0.5f);
        if (!stbi_write_png(save_path, DIGIT_SIZE, DIGIT_SIZE, 1, bytes, DIGIT_SIZE))
            fprintf(stderr, "classify: cannot write '%s'\n", save_path);
        else
            printf("wrote %s (the 28x28 image the network sees)\n", save_path);
    }

    if (cnn_predict(&net, digit, 1, probs, NULL)) {
        fprintf(stderr, "classify: %s\n", cnn_last_error());
        goto done;
    }
    /* The three largest probabilities, in order. */
    for (k = 0; k < 3; k++) {
        best[k] = -1;
        for (i = 0; i < classes; i++)
            if ((k < 1 || i != best[0]) && (k < 2 || i != best[1]) && (best[k] < 0 || probs[i] > probs[best[k]])) best[k] = i;
    }
    printf("%s (%dx%d, %d channel%s):\n", image_path, width, height, channels, channels == 1 ? "" : "s");
    for (k = 0; k < 3; k++) printf("  %d  %5.1f%%\n", best[k], 100.0 * probs[best[k]]);
    rc = 0;
done:
    free(grey);
    free(work);
    cnn_net_free(&net);
    return rc;
}
