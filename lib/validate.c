/* validate.c - see validate.h */
#include "validate.h"
