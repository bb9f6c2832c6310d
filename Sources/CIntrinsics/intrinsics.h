// Compiler intrinsics Swift does not expose. Header-only: `static inline`, so the Swift compiler
// inlines each into the calling kernel.
#ifndef ALIGN_INTRINSICS_H
#define ALIGN_INTRINSICS_H

/// Asks the hardware to start loading the cache line at `address` (for reading, kept in every
/// cache level). A hint: never faults, even past the end of an allocation.
static inline __attribute__((always_inline)) void align_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
