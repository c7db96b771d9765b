// Counts heap allocations of the process it is linked into (glibc): the benchmark harnesses link it so that
// "allocations per event" is a measured number. It replaces malloc and friends with wrappers that count and call
// glibc's own implementations.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// Allocations (malloc, calloc, realloc, aligned allocations) since the process started.
uint64_t malloc_counter_allocations(void);

/// Heap bytes in use (glibc's mallinfo2: chunks in use plus separately mapped blocks).
size_t malloc_counter_heap_in_use(void);
