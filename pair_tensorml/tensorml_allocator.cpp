/* tensorml: keep freed memory in the process (see tensorml_allocator.h). */

#include "tensorml_allocator.h"

#include <climits>
#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace TensorML {

std::string keep_freed_memory()
{
  static std::string done;
  if (!done.empty()) return done;
#if defined(__GLIBC__)
  for (const char *var : {"MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_"})
    if (std::getenv(var)) return done = std::string("glibc malloc left as set by ") + var;
  const bool ok = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
  done = ok ? "glibc malloc keeps freed memory for the next model call (M_MMAP_MAX 0, M_TRIM_THRESHOLD 2 GiB; "
              "set MALLOC_MMAP_MAX_ to choose otherwise)"
            : "glibc malloc unchanged (mallopt refused)";
#else
  done = "allocator unchanged (not glibc)";
#endif
  return done;
}

}    // namespace TensorML
