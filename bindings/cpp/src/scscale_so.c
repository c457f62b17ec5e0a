/* Everything in libscscale.so comes from the crate's staticlib; CMake needs one source file. */
#include "scscale.h"
