/* crypto.c - see crypto.h */
#include "crypto.h"
