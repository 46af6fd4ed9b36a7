/* A driver for fuzz_decoders.c without libFuzzer (gcc): runs every seed file given on the
 * command line, then `rounds` random mutations of each (byte overwrites, truncations and
 * extensions from a fixed xorshift generator), under whatever sanitizers it was built with.
 *
 *   mutate_main ROUNDS SEED_FILE...      exit 0 when every run returned */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t state = 2463534242u;

static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

int main(int argc, char **argv)
{
    static uint8_t seed[65536], work[65536 + 64];
    long rounds, r;
    int f;
    if (argc < 3) {
        fprintf(stderr, "usage: %s ROUNDS SEED_FILE...\n", argv[0]);
        return 2;
    }
    rounds = strtol(argv[1], 0, 10);
    for (f = 2; f < argc; ++f) {
        FILE *in = fopen(argv[f], "rb");
        size_t n;
        if (in == 0) {
            perror(argv[f]);
            return 2;
        }
        n = fread(seed, 1, sizeof(seed), in);
        fclose(in);
        LLVMFuzzerTestOneInput(seed, n);
        for (r = 0; r < rounds; ++r) {
            size_t size = n, edits = 1 + next() % 4, e;
            memcpy(work, seed, n);
            for (e = 0; e < edits; ++e) {
                const uint32_t what = next() % 8;
                if (what == 0 && size > 0) {
                    size = next() % size; /* truncate */
                } else if (what == 1) {
                    size_t extra = next() % 64;
                    while (extra-- > 0) {
                        work[size++] = (uint8_t)next();
                    }
                } else if (size > 0) {
                    work[next() % size] = (uint8_t)next(); /* overwrite a byte */
                }
            }
            LLVMFuzzerTestOneInput(work, size);
        }
    }
    printf("ran %ld inputs\n", (long)(argc - 2) * (rounds + 1));
    return 0;
}
