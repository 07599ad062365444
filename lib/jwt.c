/* jwt.c - see jwt.h */
#include "jwt.h"
