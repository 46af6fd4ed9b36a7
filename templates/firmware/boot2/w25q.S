/* Second-stage boot loader for the RP2040 with a W25Q-class QSPI flash.
 *
 * The boot ROM copies the first 256 bytes of flash to SRAM at 0x20041F00, checks the CRC-32 in
 * their last 4 bytes and branches here with lr = 0. This code sets the SSI (execute-in-place
 * controller) to translate every bus read of 0x10000000-0x10FFFFFF into a standard-SPI Read
 * Data (03h) command with a 24-bit address: the one read command every W25Q part (and every
 * other SPI NOR flash) accepts, at clk_sys / 4 (31.25 MHz at 125 MHz, below the 50 MHz the W25Q
 * allows for 03h). Then it points VTOR at the image's vector table at 0x10000100 and enters its
 * reset handler with its initial stack pointer. Called with a non-zero lr (from code already
 * running) it returns instead.
 *
 * mcucompress assembles this file, pads it to 252 bytes and appends the checksum.
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
    .section .text, "ax"

    .equ SSI_BASE,        0x18000000
    .equ SSI_CTRLR0,      0x00
    .equ SSI_CTRLR1,      0x04
    .equ SSI_SSIENR,      0x08
    .equ SSI_BAUDR,       0x14
    .equ SSI_SPI_CTRLR0,  0xF4
    .equ CLOCK_DIVIDER,   4
    /* CTRLR0: standard SPI frame format (SPI_FRF = 0, bits 22:21), 32-bit data frames (DFS_32 =
     * 31, bits 20:16), EEPROM-read transfers (TMOD = 3, bits 9:8: send command, then receive). */
    .equ CTRLR0_XIP,      (31 << 16) | (3 << 8)
    /* SPI_CTRLR0: command 03h sent on the bus for each XIP read (XIP_CMD, bits 31:24), an 8-bit
     * instruction (INST_L = 2, bits 9:8), a 24-bit address (ADDR_L = 6 nibbles, bits 5:2), no
     * wait cycles, instruction and address in standard SPI (TRANS_TYPE = 0). */
    .equ SPI_CTRLR0_XIP,  (0x03 << 24) | (2 << 8) | (6 << 2)
    .equ IMAGE_VECTORS,   0x10000100
    .equ VTOR,            0xE000ED08

    .global mcc_boot2_entry
    .type mcc_boot2_entry, %function
    .thumb_func
mcc_boot2_entry:
    push {lr}
    ldr r3, =SSI_BASE
    movs r0, #0
    str r0, [r3, #SSI_SSIENR]          /* the SSI takes a new set-up only while disabled */
    movs r0, #CLOCK_DIVIDER
    str r0, [r3, #SSI_BAUDR]
    ldr r0, =CTRLR0_XIP
    str r0, [r3, #SSI_CTRLR0]
    movs r0, #0
    str r0, [r3, #SSI_CTRLR1]          /* one data frame (NDF = 0) per XIP access */
    ldr r1, =SSI_BASE + SSI_SPI_CTRLR0
    ldr r0, =SPI_CTRLR0_XIP
    str r0, [r1]
    movs r0, #1
    str r0, [r3, #SSI_SSIENR]

    pop {r0}
    cmp r0, #0
    beq enter_image
    bx r0                               /* called from running code: return to it */

enter_image:
    ldr r0, =IMAGE_VECTORS
    ldr r1, =VTOR
    str r0, [r1]
    ldmia r0, {r0, r1}                  /* initial stack pointer, reset handler */
    msr msp, r0
    bx r1

    .ltorg
