/*
 * Reset handler, vector table, SysTick clock, CMSDK UART driver and the
 * semihosting exit for the mps2-an386 board (see board.h).
 */
#include "board.h"

#include <stdio.h>
#include <string.h>

#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))

#define SCB_CPACR 0xE000ED88u
#define SYST_CSR 0xE000E010u
#define SYST_RVR 0xE000E014u
#define SYST_CVR 0xE000E018u

#define UART_DATA 0x00u
#define UART_STATE 0x04u
#define UART_CTRL 0x08u
#define UART_BAUDDIV 0x10u
#define UART_STATE_TXFULL 0x1u
#define UART_STATE_RXFULL 0x2u

#define STACK_PAINT 0xC5C5C5C5u

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _stack_bottom, _stack_top;
extern int main(void);
extern void initialise_monitor_handles(void);

static volatile uint32_t millis;

/* newlib's rdimon start-up files are not linked (-nostartfiles). */
void _init(void)
{
}
void _fini(void)
{
}

void SysTick_Handler(void)
{
    millis++;
}

static void fault_handler(void)
{
    /* A fault is a firmware bug: say so and stop, never hang the test. */
    static const char msg[] = "firmware: hard fault\n";
    register uint32_t r0 __asm__("r0") = 0x04u; /* SYS_WRITE0 */
    register const char *r1 __asm__("r1") = msg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    board_exit(70);
}

void Reset_Handler(void) __attribute__((noreturn));
void Reset_Handler(void)
{
    uint32_t *p;
    uint32_t sp;

    /* FPU on (CP10, CP11 full access) before any floating-point code. */
    REG32(SCB_CPACR) |= 0xFu << 20;
    __asm__ volatile("dsb\n isb" ::: "memory");
    for (p = &_sdata; p < &_edata; p++) {
        *p = *(&_sidata + (p - &_sdata));
    }
    for (p = &_sbss; p < &_ebss; p++) {
        *p = 0;
    }
    /* Paint the stack below the current frame for the high-water mark. */
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (p = &_stack_bottom; (uintptr_t)p < sp - 64u; p++) {
        *p = STACK_PAINT;
    }
    initialise_monitor_handles();
    board_exit(main());
}

typedef void (*vector_t)(void);
__attribute__((section(".vectors"), used)) static const vector_t vectors[16] = {
    (vector_t)(uintptr_t)&_stack_top,
    Reset_Handler,
    fault_handler, /* NMI */
    fault_handler, /* HardFault */
    fault_handler, /* MemManage */
    fault_handler, /* BusFault */
    fault_handler, /* UsageFault */
    0,
    0,
    0,
    0,
    fault_handler, /* SVC */
    fault_handler, /* DebugMon */
    0,
    fault_handler, /* PendSV */
    SysTick_Handler,
};

void board_init(void)
{
    /* 1 kHz from the 1 MHz reference clock (CLKSOURCE = 0), interrupt on. */
    REG32(SYST_RVR) = 1000u - 1u;
    REG32(SYST_CVR) = 0;
    REG32(SYST_CSR) = 0x3u;
}

uint32_t board_millis(void)
{
    return millis;
}

void board_delay_us(uint32_t us)
{
    /* Millisecond resolution, rounded up, plus one for the partial tick. */
    uint32_t start = millis;
    uint32_t ms = (us + 999u) / 1000u + 1u;
    while (millis - start < ms) {
        __asm__ volatile("wfi");
    }
}

void uart_init(uint32_t base)
{
    REG32(base + UART_BAUDDIV) = 16u; /* the minimum the CMSDK UART accepts */
    REG32(base + UART_CTRL) = 0x3u;   /* TX and RX enabled, no interrupts */
}

void uart_write(uint32_t base, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (REG32(base + UART_STATE) & UART_STATE_TXFULL) {
        }
        REG32(base + UART_DATA) = buf[i];
    }
}

int uart_getc(uint32_t base, uint32_t timeout_ms)
{
    uint32_t start = millis;
    while (!(REG32(base + UART_STATE) & UART_STATE_RXFULL)) {
        if (millis - start >= timeout_ms) {
            return FW_UART_TIMEOUT;
        }
    }
    return (int)(REG32(base + UART_DATA) & 0xFFu);
}

void uart_drain(uint32_t base)
{
    while (uart_getc(base, 2) != FW_UART_TIMEOUT) {
    }
}

size_t board_stack_unused(void)
{
    const uint32_t *p = &_stack_bottom;
    while (p < &_stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (size_t)((uintptr_t)p - (uintptr_t)&_stack_bottom);
}

size_t board_stack_size(void)
{
    return (size_t)((uintptr_t)&_stack_top - (uintptr_t)&_stack_bottom);
}

void board_exit(int status)
{
    /* SYS_EXIT_EXTENDED: QEMU exits with the given status. */
    uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)status};

    fflush(stdout);
    fflush(stderr);
    register uint32_t r0 __asm__("r0") = 0x20u;
    register uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}
