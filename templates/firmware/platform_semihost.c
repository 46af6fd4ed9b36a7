/* Harness platform for emulators and debug probes: output and exit status through Arm
 * semihosting (bkpt 0xAB). Without a debugger attached, semihosting calls fault. */
#include "mcc_harness.h"

#define SYS_WRITE0 0x04
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static int semihost(int operation, const void *argument)
{
    register int r0 __asm__("r0") = operation;
    register const void *r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void mcc_platform_write(const char *text)
{
    (void)semihost(SYS_WRITE0, text);
}

void mcc_platform_exit(int status)
{
    /* The extended form carries the status; QEMU exits with it. */
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    (void)semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
