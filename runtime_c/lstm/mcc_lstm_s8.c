/* mcc_lstm_s8 - TFLite's integer LSTM over a sequence (int8 activations and weights, int16 gates
 * and cell state), mirroring mcucompress/quantize/lstm_ops.py line by line. On DSP cores the dot
 * products run four bytes a pass with SMLAD (the same integer sums). */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#define MCC_LSTM_INT16_MIN (-32768)
#define MCC_LSTM_INT16_MAX 32767

static int32_t mcc_lstm_sat16(int32_t v)
{
    return mcc_nn_clamp(v, MCC_LSTM_INT16_MIN, MCC_LSTM_INT16_MAX);
}

/* (x * multiplier + round) >> shift: the input scaling of TFLite's int16 sigmoid and tanh. */
static int32_t mcc_lstm_scaled(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
    return (x * multiplier + round) >> shift;
}

/* The table point below |v| (fraction_bits below it interpolate), or saturated past the end. */
static uint32_t mcc_lstm_interpolate(const uint16_t *table, uint32_t magnitude, int32_t fraction_bits,
                                     uint32_t saturated)
{
    const uint32_t step = magnitude >> fraction_bits;
    uint32_t low;
    uint32_t high;
    if (step >= 255u) {
        return saturated;
    }
    low = table[step];
    high = table[step + 1u];
    return (low << fraction_bits) + (magnitude & ((1u << fraction_bits) - 1u)) * (high - low);
}

/* TFLite's int16 Logistic, Q3.12 in (times 3/4), Q0.15 out. */
static int16_t mcc_lstm_sigmoid(const uint16_t *table, int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t v = mcc_lstm_scaled(x, multiplier, shift);
    const uint32_t magnitude = (uint32_t)(v < 0 ? -v : v);
    uint32_t r = mcc_lstm_interpolate(table, magnitude, 9, 0x7FFFu << 10);
    r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
    return (int16_t)(r >> 10);
}

/* TFLite's int16 Tanh: 2 sigmoid(2x) - 1 from the same table, Q0.15 out. */
static int16_t mcc_lstm_tanh(const uint16_t *table, int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t v = mcc_lstm_scaled(x, multiplier, shift);
    const uint32_t magnitude = (uint32_t)(v < 0 ? -v : v);
    const int32_t r = (int32_t)mcc_lstm_interpolate(table, magnitude, 8, 0xFFFFu << 8);
    const int32_t centred = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(centred >> 8);
}

/* sum over k of w[k] * (x[k] + offset), exact in int32. */
static int32_t mcc_lstm_dot(const int8_t *w, const int8_t *x, int32_t n, int32_t offset)
{
    int32_t sum = 0;
    int32_t k = 0;
#if MCC_HAVE_DSP
    /* sum of w * x by SMLAD on widened pairs, and sum of w (SMLAD with ones) times the offset */
    const uint32_t ones = 0x00010001u;
    int32_t weights = 0;
    for (; k + 4 <= n; k += 4) {
        uint32_t w4;
        uint32_t x4;
        uint32_t w_even;
        uint32_t w_odd;
        uint32_t x_even;
        uint32_t x_odd;
        memcpy(&w4, w + k, 4);
        memcpy(&x4, x + k, 4);
        mcc_nn_widen4(w4, &w_even, &w_odd);
        mcc_nn_widen4(x4, &x_even, &x_odd);
        sum = mcc_nn_smlad(w_even, x_even, sum);
        sum = mcc_nn_smlad(w_odd, x_odd, sum);
        weights = mcc_nn_smlad(w_even, ones, weights);
        weights = mcc_nn_smlad(w_odd, ones, weights);
    }
    sum += weights * offset;
#endif
    for (; k < n; ++k) {
        sum += w[k] * (x[k] + offset);
    }
    return sum;
}

/* One gate's pre-activation in Q3.12 for every unit: input and recurrent products apart, each
 * saturated to int16, then their saturated sum. */
static void mcc_lstm_gate_sums(const mcc_lstm_params *p, const mcc_lstm_gate *gate, const int8_t *x,
                               const int8_t *hidden, int16_t *out)
{
    int32_t j;
    for (j = 0; j < p->units; ++j) {
        const int8_t *w = gate->input_weights + (mcc_nn_index)j * p->input_size;
        const int8_t *r = gate->recurrent_weights + (mcc_nn_index)j * p->units;
        int32_t from_input = gate->bias[j] + mcc_lstm_dot(w, x, p->input_size, p->input_offset);
        int32_t from_hidden = mcc_lstm_dot(r, hidden, p->units, p->hidden_offset);
        from_input = mcc_lstm_sat16(mcc_nn_requantize(from_input, gate->input_multiplier, gate->input_shift));
        from_hidden = mcc_lstm_sat16(
            mcc_nn_requantize(from_hidden, gate->recurrent_multiplier, gate->recurrent_shift));
        out[j] = (int16_t)mcc_lstm_sat16(from_input + from_hidden);
    }
}

static void mcc_lstm_gate_sigmoid(const mcc_lstm_params *p, int16_t *gate)
{
    int32_t j;
    for (j = 0; j < p->units; ++j) {
        gate[j] = mcc_lstm_sigmoid(p->sigmoid_table, gate[j], 3, 0);
    }
}

mcc_status mcc_lstm_s8(const mcc_lstm_params *params, const int8_t *input, int8_t *hidden, int16_t *cell,
                       int16_t *scratch, int8_t *output)
{
    const mcc_lstm_params *p = params;
    const int32_t units = p->units;
    int16_t *input_gate = scratch;
    int16_t *forget_gate = scratch + units;
    int16_t *cell_gate = scratch + 2 * units;
    int16_t *output_gate = scratch + 3 * units;
    int32_t step;
    int32_t j;
    if (units < 1 || p->input_size < 1 || p->steps < 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (step = 0; step < p->steps; ++step) {
        const int8_t *x = input + (mcc_nn_index)step * p->input_size;
        mcc_lstm_gate_sums(p, &p->forget_gate, x, hidden, forget_gate);
        mcc_lstm_gate_sums(p, &p->input_gate, x, hidden, input_gate);
        mcc_lstm_gate_sums(p, &p->cell_gate, x, hidden, cell_gate);
        mcc_lstm_gate_sums(p, &p->output_gate, x, hidden, output_gate);
        mcc_lstm_gate_sigmoid(p, forget_gate);
        mcc_lstm_gate_sigmoid(p, input_gate);
        mcc_lstm_gate_sigmoid(p, output_gate);
        for (j = 0; j < units; ++j) {
            const int16_t g = p->cell_sigmoid ? mcc_lstm_sigmoid(p->sigmoid_table, cell_gate[j], 3, 0)
                                              : mcc_lstm_tanh(p->sigmoid_table, cell_gate[j], 3, 0);
            const int32_t kept = mcc_lstm_sat16(
                mcc_nn_requantize(forget_gate[j] * cell[j], p->forget_multiplier, p->forget_shift));
            const int32_t added = mcc_lstm_sat16(
                mcc_nn_requantize(input_gate[j] * g, p->update_multiplier, p->update_shift));
            int32_t c = mcc_lstm_sat16(kept + added);
            if (p->cell_clip > 0) {
                c = mcc_nn_clamp(c, -p->cell_clip, p->cell_clip);
            }
            cell[j] = (int16_t)c;
        }
        /* the hidden state changes only now: every gate above read the previous step's */
        for (j = 0; j < units; ++j) {
            const int32_t t = mcc_lstm_tanh(p->sigmoid_table, cell[j], p->tanh_multiplier, p->tanh_shift);
            const int32_t h = mcc_nn_requantize(t * output_gate[j], p->hidden_multiplier, p->hidden_shift) +
                              p->hidden_zero_point;
            hidden[j] = (int8_t)mcc_nn_clamp(h, -128, 127);
            output[(mcc_nn_index)step * units + j] = hidden[j];
        }
    }
    return MCC_OK;
}
