/*
 * lint-model.h - force-included by tests/lint.sh into every file but
 * lib/rb.c when clang-tidy runs; never part of a build.
 *
 * clang's analyzer looks at one file at a time, so it does not know that
 * rb_err_set() (lib/rb.c) always returns -1, and follows impossible paths
 * through every "return rb_err_set(...)" whose caller tests "== -1".  This
 * macro tells it what rb.h promises.
 */
#include "rb.h"
#define rb_err_set(...) (rb_err_set(__VA_ARGS__), -1)
#define rb_err_oom(err) (rb_err_oom(err), -1)
