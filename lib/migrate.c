/* migrate.c - see migrate.h */
#include "migrate.h"
