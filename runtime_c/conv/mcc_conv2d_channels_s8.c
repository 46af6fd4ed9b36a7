/* mcc_conv2d_channels_s8 - the listed output channels of an int8 convolution, depthwise
 * convolution or fully connected layer (TFLM double rounding), written in place into the full
 * output tensor. The exporter (codegen/channel_split.py) runs a layer's fast kernel on every
 * other channel and this one afterwards on the few channels the fast kernel cannot requantize
 * exactly (extreme scales, accumulators near the int32 limits) or cannot lay out (the last
 * 1-3 channels of a depthwise layer); results are those of mcc_conv2d_s8 /
 * mcc_depthwise_conv2d_s8 bit for bit. */
#include "mcc.h"
#include "mcc_nn.h"

/* Accumulator of one output channel at one output pixel: weights w over the window at
 * (y0, x0), input channels [c0, c0 + n_c) of pixels in_c apart. */
static int32_t window_dot(const mcc_conv_channels_params *p, const int8_t *in_batch,
                          const mcc_dims *input_dims, int32_t y0, int32_t x0, int32_t c0,
                          int32_t n_c, const int8_t *w)
{
    int32_t acc = 0;
    int32_t ky, kx, c;
    for (ky = 0; ky < p->kernel.h; ++ky) {
        const int32_t y = y0 + ky * p->dilation.h;
        for (kx = 0; kx < p->kernel.w; ++kx) {
            const int32_t x = x0 + kx * p->dilation.w;
            const int8_t *pixel;
            if (y < 0 || y >= input_dims->h || x < 0 || x >= input_dims->w) {
                w += n_c;
                continue;
            }
            pixel = in_batch + ((int64_t)y * input_dims->w + x) * input_dims->c + c0;
            for (c = 0; c < n_c; ++c) {
                acc += (pixel[c] + p->input_offset) * w[c];
            }
            w += n_c;
        }
    }
    return acc;
}

mcc_status mcc_conv2d_channels_s8(const mcc_conv_channels_params *params,
                                  const mcc_dims *input_dims, const int8_t *input,
                                  const mcc_dims *output_dims, int8_t *output)
{
    const int32_t in_c = input_dims->c;
    const int32_t n_c = params->depthwise ? 1 : in_c;
    const int32_t taps = params->kernel.h * params->kernel.w;
    int32_t b, oy, ox, j;

    if (input_dims->n != output_dims->n || (params->depthwise && in_c != output_dims->c)) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + (int64_t)b * input_dims->h * input_dims->w * in_c;
        for (oy = 0; oy < output_dims->h; ++oy) {
            const int32_t y0 = oy * params->stride.h - params->padding.h;
            for (ox = 0; ox < output_dims->w; ++ox) {
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                for (j = 0; j < params->count; ++j) {
                    const int32_t oc = params->index[j];
                    const int32_t acc =
                        window_dot(params, in_batch, input_dims, y0, x0, params->depthwise ? oc : 0,
                                   n_c, params->weights + (int64_t)j * taps * n_c) +
                        params->bias[j];
                    output[oc] = (int8_t)mcc_nn_clamp(
                        mcc_nn_requantize(acc, params->multiplier[j], params->shift[j]) +
                            params->output_offset,
                        params->activation.min, params->activation.max);
                }
                output += output_dims->c;
            }
        }
    }
    return MCC_OK;
}
