/* Harness platform for a board running without a debugger: report lines go to a RAM buffer and
 * the final status to a variable, both readable with a probe (e.g. `pyocd commander`), then the
 * core sleeps. Semihosting would fault here, as no debugger answers the breakpoint. */
#include "mcc_harness.h"

#define MCC_CONSOLE_BYTES 512u

char mcc_console[MCC_CONSOLE_BYTES];
volatile uint32_t mcc_console_length;
volatile int32_t mcc_exit_status = -1;

void mcc_platform_write(const char *text)
{
    while (*text != '\0' && mcc_console_length < MCC_CONSOLE_BYTES - 1u) {
        mcc_console[mcc_console_length++] = *text++;
    }
}

void mcc_platform_exit(int status)
{
    mcc_exit_status = status;
    for (;;) {
        __asm__ volatile("wfi");
    }
}
