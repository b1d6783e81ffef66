/*
 * The board under the firmware: qemu-system-arm -M mps2-an386 (Cortex-M4F,
 * 25 MHz, CMSDK APB UARTs, SysTick on the 1 MHz reference clock) plus ARM
 * semihosting for the console, files, the clock and the exit status.
 */
#ifndef FW_BOARD_H
#define FW_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* CMSDK APB UARTs: UART0 is the first -serial, UART1 the second. */
#define FW_UART0 0x40004000u
#define FW_UART1 0x40005000u

#define FW_UART_TIMEOUT (-1)

void board_init(void);

/* Milliseconds since board_init (SysTick interrupt, host real time under QEMU). */
uint32_t board_millis(void);
/* Busy-waits at least us microseconds. */
void board_delay_us(uint32_t us);

void uart_init(uint32_t base);
void uart_write(uint32_t base, const uint8_t *buf, size_t len);
/* One byte within timeout_ms, or FW_UART_TIMEOUT. */
int uart_getc(uint32_t base, uint32_t timeout_ms);
/* Discards whatever is waiting (a late answer after a timeout). */
void uart_drain(uint32_t base);

/* Bytes of the stack never written since boot (it is painted at reset). */
size_t board_stack_unused(void);
size_t board_stack_size(void);

/* Ends the QEMU run with this exit status (semihosting SYS_EXIT_EXTENDED). */
void board_exit(int status) __attribute__((noreturn));

#endif
