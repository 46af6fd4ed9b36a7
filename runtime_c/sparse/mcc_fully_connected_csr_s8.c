/* mcc_fully_connected_csr_s8 - int8 fully connected layer with compressed sparse row weights.
 *
 * Multiplies only the stored entries, so the work scales with the non-zero weights. Every
 * column is checked against depth and every row length against the entries left, so corrupt
 * data ends in MCC_ERROR_ARGUMENT and never in an out-of-bounds read. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_fully_connected_csr_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                      const mcc_dims *input_dims, const int8_t *input,
                                      const mcc_dims *filter_dims, const mcc_csr_s8 *filter,
                                      const int32_t *bias,
                                      const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int32_t input_offset = params->input_offset;
    const int32_t filter_offset = params->filter_offset;
    const uint8_t *gaps = filter->gaps;
    const int8_t *values = filter->values;
    int32_t b, u;

    if (output_dims->c != units || depth <= 0 ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth ||
        (filter->gap_bits != 4 && filter->gap_bits != 8) || filter->entries < 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (int64_t)b * depth;
        int32_t k = 0; /* entry index over the whole layer */
        for (u = 0; u < units; ++u) {
            const int32_t q = quant->per_channel ? u : 0;
            const int32_t end = k + filter->row_entries[u];
            uint32_t col = (uint32_t)-1; /* column of the previous entry */
            int32_t acc = 0;
            if (filter->row_entries[u] > filter->entries - k) {
                return MCC_ERROR_ARGUMENT;
            }
            if (filter->gap_bits == 4) {
                /* Rows need not start on a byte: a high nibble first, then whole bytes (two
                 * entries per load), then a trailing low nibble. */
                if ((k & 1) && k < end) {
                    col += 1u + ((uint32_t)gaps[k >> 1] >> 4);
                    if (col >= (uint32_t)depth) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[col] + input_offset) * (values[k] + filter_offset);
                    ++k;
                }
                for (; k + 1 < end; k += 2) {
                    const uint32_t packed = gaps[k >> 1];
                    col += 1u + (packed & 15u);
                    if (col >= (uint32_t)depth) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[col] + input_offset) * (values[k] + filter_offset);
                    col += 1u + (packed >> 4);
                    if (col >= (uint32_t)depth) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[col] + input_offset) * (values[k + 1] + filter_offset);
                }
                if (k < end) {
                    col += 1u + ((uint32_t)gaps[k >> 1] & 15u);
                    if (col >= (uint32_t)depth) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[col] + input_offset) * (values[k] + filter_offset);
                    ++k;
                }
            } else {
                for (; k < end; ++k) {
                    col += 1u + gaps[k];
                    if (col >= (uint32_t)depth) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[col] + input_offset) * (values[k] + filter_offset);
                }
            }
            if (bias != 0) {
                acc += bias[u];
            }
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, q, params->output_offset,
                                                         &params->activation);
        }
    }
    return MCC_OK;
}
