/* test_digit_image.c - examples/digit_image.h: pictures of any size and colour become 28x28
   MNIST-style digits (ink 1 on 0, the longer side of the digit 20 pixels, centred by mass). */
#include <stdlib.h>
#include "harness.h"
#include "../examples/digit_image.h"

/* A w x h picture: paper of brightness 'paper', and a pen stroke of brightness 'pen' filling
   the rectangle [x0, x1) x [y0, y1), plus a short foot to the right at its bottom. */
static float *picture(int w, int h, float paper, float pen, int x0, int x1, int y0, int y1) {
    float *g = (float *)malloc(sizeof(float) * (size_t)w * h);
    int x, y;
    if (!g) return NULL;
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++) {
            int in_bar = x >= x0 && x < x1 && y >= y0 && y < y1;
            int in_foot = y >= y1 - (y1 - y0) / 8 && y < y1 && x >= x1 && x < x1 + (x1 - x0);
            g[(size_t)y * w + x] = in_bar || in_foot ? pen : paper;
        }
    return g;
}

typedef struct stats { float lo, hi; int left, right, top, bottom; double cx, cy; } stats;

static stats measure(const float *d) {
    stats s;
    double mass = 0;
    int x, y;
    s.lo = 1; s.hi = 0; s.left = s.top = DIGIT_SIZE; s.right = s.bottom = -1; s.cx = s.cy = 0;
    for (y = 0; y < DIGIT_SIZE; y++)
        for (x = 0; x < DIGIT_SIZE; x++) {
            float v = d[y * DIGIT_SIZE + x];
            if (v < s.lo) s.lo = v;
            if (v > s.hi) s.hi = v;
            if (v > 0) {
                if (x < s.left) s.left = x;
                if (x > s.right) s.right = x;
                if (y < s.top) s.top = y;
                if (y > s.bottom) s.bottom = y;
            }
            s.cx += v * x; s.cy += v * y; mass += v;
        }
    s.cx /= mass; s.cy /= mass;
    return s;
}

/* Dark ink on white paper, a tall digit in a large wide picture. */
TEST(dark_on_light_is_inverted_fitted_and_centred) {
    float *g = picture(300, 200, 0.95f, 0.1f, 40, 70, 20, 180), *work = (float *)malloc(sizeof(float) * 300 * 200), d[28 * 28];
    char err[128];
    stats s;
    CHECK(g && work);
    if (!g || !work) return;
    CHECK(digit_prepare(g, 300, 200, work, d, err, sizeof err) == 0);
    s = measure(d);
    CHECK(s.lo == 0.0f);
    CHECK_NEAR(s.hi, 1.0, 1e-3);                                /* ink is bright */
    CHECK(d[0] == 0.0f && d[27 * 28 + 27] == 0.0f);              /* the paper became black */
    CHECKF(s.bottom - s.top + 1 == 20, "height %d", s.bottom - s.top + 1);   /* the longer side */
    CHECKF(s.right - s.left + 1 <= 9, "width %d", s.right - s.left + 1);      /* aspect kept: 60/160 * 20 = 7.5 */
    CHECK_NEAR(s.cx, 14.0, 0.5);
    CHECK_NEAR(s.cy, 14.0, 0.5);
    free(g); free(work);
}

/* Light ink on a dark background, a tiny image: enlarged, not inverted. */
TEST(light_on_dark_small_image_is_enlarged) {
    float *g = picture(12, 9, 0.05f, 0.8f, 4, 6, 1, 8), work[12 * 9], d[28 * 28];
    char err[128];
    stats s;
    CHECK(g != NULL);
    if (!g) return;
    CHECK(digit_prepare(g, 12, 9, work, d, err, sizeof err) == 0);
    s = measure(d);
    CHECK(s.lo == 0.0f && s.hi > 0.99f);
    CHECKF(s.bottom - s.top + 1 == 20, "height %d", s.bottom - s.top + 1);
    CHECK_NEAR(s.cx, 14.0, 0.5);
    CHECK_NEAR(s.cy, 14.0, 0.5);
    free(g);
}

TEST(a_blank_picture_is_refused) {
    float g[16 * 16], work[16 * 16], d[28 * 28];
    char err[128] = "";
    int i;
    for (i = 0; i < 16 * 16; i++) g[i] = 0.9f;
    CHECK(digit_prepare(g, 16, 16, work, d, err, sizeof err) == -1);
    CHECK(strstr(err, "no digit") != NULL);
}

int main(void) {
    RUN(dark_on_light_is_inverted_fitted_and_centred);
    RUN(light_on_dark_small_image_is_enlarged);
    RUN(a_blank_picture_is_refused);
    return harness_report();
}
