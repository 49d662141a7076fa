/* tensorml: keep freed memory in the process (glibc malloc), so that torch's tensor buffers are reused.
 *
 * glibc serves blocks above its mmap threshold (128 KiB, rising to at most 32 MiB) with mmap and unmaps
 * them on free, so every model call faults all its large tensors in again: at 1536 atoms that was
 * 40-60 % of the step's CPU time, kernel time (issue 18). keep_freed_memory() turns that off once per
 * process (mallopt M_MMAP_MAX 0, M_TRIM_THRESHOLD 2 GiB): freed blocks stay in the heap for the next
 * call. It does nothing when the user set any MALLOC_*_ variable (their choice wins) or on a C
 * library without mallopt.
 */

#ifndef TENSORML_ALLOCATOR_H
#define TENSORML_ALLOCATOR_H

#include <string>

namespace TensorML {

// Applies the settings above once; returns a one-line description of what was done (for the log).
std::string keep_freed_memory();

}    // namespace TensorML

#endif
