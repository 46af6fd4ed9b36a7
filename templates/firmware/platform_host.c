/* Harness platform for the host build: stdout and the process exit status. */
#include <stdio.h>
#include <stdlib.h>

#include "mcc_harness.h"

void mcc_platform_write(const char *text)
{
    fputs(text, stdout);
}

void mcc_platform_exit(int status)
{
    exit(status);
}

uint32_t mcc_platform_stack_used(void)
{
    return 0u;
}

uint32_t mcc_platform_stack_size(void)
{
    return 0u;
}
